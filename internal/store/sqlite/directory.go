package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/names"
)

// Domains, accounts and aliases (store.Directory). Addresses arrive
// canonical; they are only checked for shape, never re-parsed.

func now() int64 { return time.Now().UnixMicro() }

func fromMicro(us int64) time.Time { return time.UnixMicro(us).UTC() }

// AddDomain implements store.Directory.
func (s *Store) AddDomain(ctx context.Context, name string) error {
	if err := names.CheckDomain(name); err != nil {
		return err
	}
	return s.write(ctx, func(w *wtx) error {
		_, err := w.exec(`INSERT INTO domains (name, created) VALUES (?, ?)`, name, now())
		if isUniqueViolation(err) {
			return fmt.Errorf("domain %s: %w", name, store.ErrExists)
		}
		return err
	})
}

// RemoveDomain implements store.Directory.
func (s *Store) RemoveDomain(ctx context.Context, name string) error {
	err := s.write(ctx, func(w *wtx) error {
		var id int64
		if err := w.queryRow(`SELECT id FROM domains WHERE name = ?`, name).Scan(&id); err != nil {
			return notFound(err, "domain "+name)
		}
		var used bool
		err := w.queryRow(`SELECT EXISTS (SELECT 1 FROM accounts WHERE domain_id = ?1)
			OR EXISTS (SELECT 1 FROM aliases WHERE domain_id = ?1)`, id).Scan(&used)
		if err != nil {
			return err
		}
		if used {
			return fmt.Errorf("domain %s: %w", name, store.ErrDomainNotEmpty)
		}
		_, err = w.exec(`DELETE FROM domains WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return err
	}
	return s.keys.bump() // the domain's API keys went with it
}

// domainID returns the id of a domain, or ErrUnknownDomain.
func domainID(w *wtx, name string) (int64, error) {
	var id int64
	err := w.queryRow(`SELECT id FROM domains WHERE name = ?`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("domain %s: %w", name, store.ErrUnknownDomain)
	}
	return id, err
}

// Domains implements store.Directory.
func (s *Store) Domains(ctx context.Context) ([]store.Domain, error) {
	rows, err := s.query(ctx, `SELECT name, created FROM domains ORDER BY name`)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r *sql.Rows) (store.Domain, error) {
		var d store.Domain
		var created int64
		err := r.Scan(&d.Name, &created)
		d.Created = fromMicro(created)
		return d, err
	})
}

// HasDomain implements store.Directory.
func (s *Store) HasDomain(ctx context.Context, name string) (bool, error) {
	var ok bool
	err := s.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM domains WHERE name = ?)`, name).Scan(&ok)
	return ok, err
}

// AddAccount implements store.Directory.
func (s *Store) AddAccount(ctx context.Context, address string, cred store.Credentials) (store.Account, error) {
	domain, err := names.SplitAddress(address, false)
	if err != nil {
		return store.Account{}, err
	}
	acct := store.Account{Address: address, Domain: domain}
	err = s.write(ctx, func(w *wtx) error {
		did, err := domainID(w, domain)
		if err != nil {
			return err
		}
		var isAlias bool
		if err := w.queryRow(`SELECT EXISTS (SELECT 1 FROM aliases WHERE address = ?)`, address).Scan(&isAlias); err != nil {
			return err
		}
		if isAlias {
			return fmt.Errorf("account %s: an alias has that address: %w", address, store.ErrExists)
		}
		created := now()
		id, err := w.insert(`INSERT INTO accounts (address, domain_id, created, password_hash,
			scram_salt, scram_iterations, scram_stored_key, scram_server_key)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			address, did, created, cred.PasswordHash,
			cred.SCRAM.Salt, cred.SCRAM.Iterations, cred.SCRAM.StoredKey, cred.SCRAM.ServerKey)
		if isUniqueViolation(err) {
			return fmt.Errorf("account %s: %w", address, store.ErrExists)
		}
		if err != nil {
			return err
		}
		for _, mb := range store.DefaultMailboxes {
			if _, err := createMailbox(w, id, mb.Name, mb.Use, mb.Name == store.Inbox); err != nil {
				return err
			}
		}
		acct.ID, acct.Created = id, fromMicro(created)
		return nil
	})
	if err != nil {
		return store.Account{}, err
	}
	return acct, nil
}

// SetCredentials implements store.Directory.
func (s *Store) SetCredentials(ctx context.Context, address string, cred store.Credentials) error {
	return s.write(ctx, func(w *wtx) error {
		res, err := w.exec(`UPDATE accounts SET password_hash = ?, scram_salt = ?, scram_iterations = ?,
			scram_stored_key = ?, scram_server_key = ? WHERE address = ?`,
			cred.PasswordHash, cred.SCRAM.Salt, cred.SCRAM.Iterations, cred.SCRAM.StoredKey, cred.SCRAM.ServerKey, address)
		return mustAffect(res, err, "account "+address)
	})
}

// RemoveAccount implements store.Directory. Mailboxes, messages and the
// change log go by ON DELETE CASCADE, bodies by the messages_blob_gc
// trigger.
func (s *Store) RemoveAccount(ctx context.Context, address string) error {
	return s.write(ctx, func(w *wtx) error {
		var id int64
		if err := w.queryRow(`SELECT id FROM accounts WHERE address = ?`, address).Scan(&id); err != nil {
			return notFound(err, "account "+address)
		}
		rows, err := w.query(`SELECT id FROM mailboxes WHERE account_id = ?`, id)
		if err != nil {
			return err
		}
		if err := touchReturned(w, id, rows); err != nil {
			return err
		}
		w.touch(id, 0)
		_, err = w.exec(`DELETE FROM accounts WHERE id = ?`, id)
		return err
	})
}

const accountColumns = `a.id, a.address, d.name, a.created, a.may_send_as_domain, a.quota_bytes`

func scanAccount(r rowScanner, extra ...any) (store.Account, error) {
	var a store.Account
	var created int64
	err := r.Scan(append([]any{&a.ID, &a.Address, &a.Domain, &created, &a.MaySendAsDomain, &a.QuotaBytes}, extra...)...)
	a.Created = fromMicro(created)
	return a, err
}

// Accounts implements store.Directory.
func (s *Store) Accounts(ctx context.Context, domain string) ([]store.Account, error) {
	rows, err := s.query(ctx, `SELECT `+accountColumns+` FROM accounts a JOIN domains d ON d.id = a.domain_id
		WHERE ?1 = '' OR d.name = ?1 ORDER BY a.address`, domain)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r *sql.Rows) (store.Account, error) { return scanAccount(r) })
}

// Account implements store.Directory.
func (s *Store) Account(ctx context.Context, address string) (store.Account, error) {
	a, err := scanAccount(s.queryRow(ctx, `SELECT `+accountColumns+`
		FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE a.address = ?`, address))
	return a, notFound(err, "account "+address)
}

// Credentials implements store.Directory.
func (s *Store) Credentials(ctx context.Context, address string) (store.Account, store.Credentials, error) {
	var c store.Credentials
	a, err := scanAccount(s.queryRow(ctx, `SELECT `+accountColumns+`, a.password_hash,
		a.scram_salt, a.scram_iterations, a.scram_stored_key, a.scram_server_key
		FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE a.address = ?`, address),
		&c.PasswordHash, &c.SCRAM.Salt, &c.SCRAM.Iterations, &c.SCRAM.StoredKey, &c.SCRAM.ServerKey)
	if err != nil {
		return store.Account{}, store.Credentials{}, notFound(err, "account "+address)
	}
	return a, c, nil
}

// AddAlias implements store.Directory.
func (s *Store) AddAlias(ctx context.Context, address string, targets []string) error {
	domain, uniq, err := names.Alias(address, targets)
	if err != nil {
		return err
	}
	return s.write(ctx, func(w *wtx) error {
		did, err := domainID(w, domain)
		if err != nil {
			return err
		}
		var isAccount bool
		if err := w.queryRow(`SELECT EXISTS (SELECT 1 FROM accounts WHERE address = ?)`, address).Scan(&isAccount); err != nil {
			return err
		}
		if isAccount {
			return fmt.Errorf("alias %s: an account has that address: %w", address, store.ErrExists)
		}
		for _, t := range uniq {
			var ok bool
			if err := w.queryRow(`SELECT EXISTS (SELECT 1 FROM accounts WHERE address = ?)`, t).Scan(&ok); err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("alias %s: target account %s: %w", address, t, store.ErrNotFound)
			}
		}
		id, err := w.insert(`INSERT INTO aliases (address, domain_id, created) VALUES (?, ?, ?)`, address, did, now())
		if isUniqueViolation(err) {
			return fmt.Errorf("alias %s: %w", address, store.ErrExists)
		}
		if err != nil {
			return err
		}
		for i, t := range uniq {
			if _, err := w.exec(`INSERT INTO alias_targets (alias_id, position, address) VALUES (?, ?, ?)`, id, i, t); err != nil {
				return err
			}
		}
		return nil
	})
}

// RemoveAlias implements store.Directory.
func (s *Store) RemoveAlias(ctx context.Context, address string) error {
	return s.write(ctx, func(w *wtx) error {
		res, err := w.exec(`DELETE FROM aliases WHERE address = ?`, address)
		return mustAffect(res, err, "alias "+address)
	})
}

// Aliases implements store.Directory.
func (s *Store) Aliases(ctx context.Context, domain string) ([]store.Alias, error) {
	rows, err := s.query(ctx, `SELECT al.address, t.address FROM aliases al
		JOIN domains d ON d.id = al.domain_id
		JOIN alias_targets t ON t.alias_id = al.id
		WHERE ?1 = '' OR d.name = ?1 ORDER BY al.address, t.position`, domain)
	if err != nil {
		return nil, err
	}
	type pair struct{ alias, target string }
	pairs, err := collect(rows, func(r *sql.Rows) (pair, error) {
		var p pair
		return p, r.Scan(&p.alias, &p.target)
	})
	if err != nil {
		return nil, err
	}
	var out []store.Alias
	for _, p := range pairs {
		if len(out) == 0 || out[len(out)-1].Address != p.alias {
			out = append(out, store.Alias{Address: p.alias})
		}
		out[len(out)-1].Targets = append(out[len(out)-1].Targets, p.target)
	}
	return out, nil
}

// Alias implements store.Directory.
func (s *Store) Alias(ctx context.Context, address string) (store.Alias, error) {
	rows, err := s.query(ctx, `SELECT t.address FROM aliases al
		JOIN alias_targets t ON t.alias_id = al.id
		WHERE al.address = ? ORDER BY t.position`, address)
	if err != nil {
		return store.Alias{}, err
	}
	targets, err := collect(rows, func(r *sql.Rows) (string, error) {
		var t string
		return t, r.Scan(&t)
	})
	if err != nil {
		return store.Alias{}, err
	}
	if len(targets) == 0 {
		return store.Alias{}, fmt.Errorf("alias %s: %w", address, store.ErrNotFound)
	}
	return store.Alias{Address: address, Targets: targets}, nil
}
