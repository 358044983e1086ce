package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/names"
)

// Sender rights and app passwords (store.Directory).

// SetMaySendAsDomain implements store.Directory.
func (s *Store) SetMaySendAsDomain(ctx context.Context, address string, allow bool) error {
	return s.write(ctx, func(w *wtx) error {
		res, err := w.exec(`UPDATE accounts SET may_send_as_domain = ? WHERE address = ?`, allow, address)
		return mustAffect(res, err, "account "+address)
	})
}

// AddAppPassword implements store.Directory.
func (s *Store) AddAppPassword(ctx context.Context, address, name string, cred store.Credentials) (store.AppPassword, error) {
	p, err := names.NewAppPassword(name, cred)
	if err != nil {
		return store.AppPassword{}, err
	}
	err = s.write(ctx, func(w *wtx) error {
		var id int64
		if err := w.queryRow(`SELECT id FROM accounts WHERE address = ?`, address).Scan(&id); err != nil {
			return notFound(err, "account "+address)
		}
		_, err := w.exec(`INSERT INTO app_passwords (account_id, name, created, password_hash) VALUES (?, ?, ?, ?)`,
			id, name, p.Created.UnixMicro(), p.Credentials.PasswordHash)
		if isUniqueViolation(err) {
			return fmt.Errorf("app password %q of %s: %w", name, address, store.ErrExists)
		}
		return err
	})
	if err != nil {
		return store.AppPassword{}, err
	}
	return p, nil
}

// AppPasswords implements store.Directory.
func (s *Store) AppPasswords(ctx context.Context, address string) ([]store.AppPassword, error) {
	rows, err := s.query(ctx, `SELECT p.name, p.created, p.password_hash FROM app_passwords p
		JOIN accounts a ON a.id = p.account_id WHERE a.address = ? ORDER BY p.name`, address)
	if err != nil {
		return nil, err
	}
	list, err := collect(rows, func(r *sql.Rows) (store.AppPassword, error) {
		var p store.AppPassword
		var created int64
		err := r.Scan(&p.Name, &created, &p.Credentials.PasswordHash)
		p.Created = fromMicro(created)
		return p, err
	})
	return store.AppPasswordsOf(ctx, s, address, list, err)
}

// RemoveAppPassword implements store.Directory.
func (s *Store) RemoveAppPassword(ctx context.Context, address, name string) error {
	return s.write(ctx, func(w *wtx) error {
		res, err := w.exec(`DELETE FROM app_passwords WHERE name = ?
			AND account_id = (SELECT id FROM accounts WHERE address = ?)`, name, address)
		return mustAffect(res, err, fmt.Sprintf("app password %q of %s", name, address))
	})
}
