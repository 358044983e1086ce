package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/names"
)

// App passwords (store.Directory).

// AddAppPassword implements store.Directory.
func (s *Store) AddAppPassword(ctx context.Context, address, name string, cred store.Credentials) (store.AppPassword, error) {
	p, err := names.NewAppPassword(name, cred)
	if err != nil {
		return store.AppPassword{}, err
	}
	err = s.write(ctx, func(tx pgx.Tx, _ *touched) error {
		var id int64
		if err := tx.QueryRow(ctx, `SELECT id FROM accounts WHERE address = $1`, address).Scan(&id); err != nil {
			return notFound(err, "account "+address)
		}
		_, err := tx.Exec(ctx, `INSERT INTO app_passwords (account_id, name, created, password_hash) VALUES ($1, $2, $3, $4)`,
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
	list, err := queryAll(s, ctx, `SELECT p.name, p.created, p.password_hash FROM app_passwords p
		JOIN accounts a ON a.id = p.account_id WHERE a.address = $1 ORDER BY p.name`, []any{address},
		func(r pgx.Rows) (store.AppPassword, error) {
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
	return s.write(ctx, func(tx pgx.Tx, _ *touched) error {
		tag, err := tx.Exec(ctx, `DELETE FROM app_passwords WHERE name = $1
			AND account_id = (SELECT id FROM accounts WHERE address = $2)`, name, address)
		return mustAffect(tag, err, fmt.Sprintf("app password %q of %s", name, address))
	})
}
