package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/names"
)

// Domains, accounts and aliases (store.Directory).

func now() int64 { return time.Now().UnixMicro() }

// AddDomain implements store.Directory.
func (s *Store) AddDomain(ctx context.Context, name string) error {
	if err := names.CheckDomain(name); err != nil {
		return err
	}
	return s.writeDirectory(ctx, func(tx pgx.Tx, _ *touched) error {
		_, err := tx.Exec(ctx, `INSERT INTO domains (name, created) VALUES ($1, $2)`, name, now())
		if isUniqueViolation(err) {
			return fmt.Errorf("domain %s: %w", name, store.ErrExists)
		}
		return err
	})
}

// RemoveDomain implements store.Directory.
func (s *Store) RemoveDomain(ctx context.Context, name string) error {
	// Its API keys go with it: this node's key cache is dropped before
	// returning, with the directory cache (the triggers on api_keys and
	// domains tell the other nodes).
	return s.writeDirectory(ctx, func(tx pgx.Tx, _ *touched) error {
		var id int64
		// FOR UPDATE: an account or alias added meanwhile waits for us
		// (its foreign key check locks the domain row).
		if err := tx.QueryRow(ctx, `SELECT id FROM domains WHERE name = $1 FOR UPDATE`, name).Scan(&id); err != nil {
			return notFound(err, "domain "+name)
		}
		var used bool
		err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM accounts WHERE domain_id = $1)
			OR EXISTS (SELECT 1 FROM aliases WHERE domain_id = $1)`, id).Scan(&used)
		if err != nil {
			return err
		}
		if used {
			return fmt.Errorf("domain %s: %w", name, store.ErrDomainNotEmpty)
		}
		_, err = tx.Exec(ctx, `DELETE FROM domains WHERE id = $1`, id)
		return err
	})
}

// domainID returns the id of a domain, or ErrUnknownDomain.
func domainID(ctx context.Context, tx pgx.Tx, name string) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `SELECT id FROM domains WHERE name = $1`, name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("domain %s: %w", name, store.ErrUnknownDomain)
	}
	return id, err
}

// Domains implements store.Directory.
func (s *Store) Domains(ctx context.Context) ([]store.Domain, error) {
	return queryAll(s, ctx, `SELECT name, created FROM domains ORDER BY name`, nil, func(r pgx.Rows) (store.Domain, error) {
		var d store.Domain
		var created int64
		err := r.Scan(&d.Name, &created)
		d.Created = fromMicro(created)
		return d, err
	})
}

// AddAccount implements store.Directory.
func (s *Store) AddAccount(ctx context.Context, address string, cred store.Credentials) (store.Account, error) {
	domain, err := names.SplitAddress(address, false)
	if err != nil {
		return store.Account{}, err
	}
	acct := store.Account{Address: address, Domain: domain}
	err = s.writeDirectory(ctx, func(tx pgx.Tx, t *touched) error {
		did, err := domainID(ctx, tx, domain)
		if err != nil {
			return err
		}
		var isAlias bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM aliases WHERE address = $1)`, address).Scan(&isAlias); err != nil {
			return err
		}
		if isAlias {
			return fmt.Errorf("account %s: an alias has that address: %w", address, store.ErrExists)
		}
		created := now()
		var id int64
		err = tx.QueryRow(ctx, `INSERT INTO accounts (address, domain_id, created, password_hash,
			scram_salt, scram_iterations, scram_stored_key, scram_server_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			address, did, created, cred.PasswordHash,
			cred.SCRAM.Salt, cred.SCRAM.Iterations, cred.SCRAM.StoredKey, cred.SCRAM.ServerKey).Scan(&id)
		if isUniqueViolation(err) {
			return fmt.Errorf("account %s: %w", address, store.ErrExists)
		}
		if err != nil {
			return err
		}
		for _, mb := range store.DefaultMailboxes {
			if _, err := createMailbox(ctx, tx, id, mb.Name, mb.Use, mb.Name == store.Inbox); err != nil {
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
	return s.writeDirectory(ctx, func(tx pgx.Tx, _ *touched) error {
		tag, err := tx.Exec(ctx, `UPDATE accounts SET password_hash = $1, scram_salt = $2, scram_iterations = $3,
			scram_stored_key = $4, scram_server_key = $5 WHERE address = $6`,
			cred.PasswordHash, cred.SCRAM.Salt, cred.SCRAM.Iterations, cred.SCRAM.StoredKey, cred.SCRAM.ServerKey, address)
		return mustAffect(tag, err, "account "+address)
	})
}

// RemoveAccount implements store.Directory. Mailboxes, messages, app
// passwords and the change log go by ON DELETE CASCADE, bodies by the
// messages_deleted trigger.
func (s *Store) RemoveAccount(ctx context.Context, address string) error {
	return s.writeDirectory(ctx, func(tx pgx.Tx, t *touched) error {
		var id int64
		if err := tx.QueryRow(ctx, `SELECT id FROM accounts WHERE address = $1 FOR UPDATE`, address).Scan(&id); err != nil {
			return notFound(err, "account "+address)
		}
		rows, err := tx.Query(ctx, `SELECT id FROM mailboxes WHERE account_id = $1`, id)
		if err != nil {
			return err
		}
		if err := touchReturned(rows, id, t); err != nil {
			return err
		}
		t.add(id, 0)
		_, err = tx.Exec(ctx, `DELETE FROM accounts WHERE id = $1`, id)
		return err
	})
}

const accountColumns = `a.id, a.address, d.name, a.created, a.may_send_as_domain, a.quota_bytes`

func scanAccount(r pgx.Row, extra ...any) (store.Account, error) {
	var a store.Account
	var created int64
	err := r.Scan(append([]any{&a.ID, &a.Address, &a.Domain, &created, &a.MaySendAsDomain, &a.QuotaBytes}, extra...)...)
	a.Created = fromMicro(created)
	return a, err
}

// Accounts implements store.Directory.
func (s *Store) Accounts(ctx context.Context, domain string) ([]store.Account, error) {
	return queryAll(s, ctx, `SELECT `+accountColumns+` FROM accounts a JOIN domains d ON d.id = a.domain_id
		WHERE $1 = '' OR d.name = $1 ORDER BY a.address`, []any{domain},
		func(r pgx.Rows) (store.Account, error) { return scanAccount(r) })
}

// loadAccount reads an account (Account, through the cache).
func (s *Store) loadAccount(ctx context.Context, address string) (store.Account, error) {
	pool, err := s.db()
	if err != nil {
		return store.Account{}, err
	}
	a, err := scanAccount(pool.QueryRow(ctx, `SELECT `+accountColumns+`
		FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE a.address = $1`, address))
	return a, s.mapErr(notFound(err, "account "+address))
}

// loadCredentials reads a login's secrets (Credentials, through the
// cache).
func (s *Store) loadCredentials(ctx context.Context, address string) (store.Account, store.Credentials, error) {
	pool, err := s.db()
	if err != nil {
		return store.Account{}, store.Credentials{}, err
	}
	var c store.Credentials
	a, err := scanAccount(pool.QueryRow(ctx, `SELECT `+accountColumns+`, a.password_hash,
		a.scram_salt, a.scram_iterations, a.scram_stored_key, a.scram_server_key
		FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE a.address = $1`, address),
		&c.PasswordHash, &c.SCRAM.Salt, &c.SCRAM.Iterations, &c.SCRAM.StoredKey, &c.SCRAM.ServerKey)
	if err != nil {
		return store.Account{}, store.Credentials{}, s.mapErr(notFound(err, "account "+address))
	}
	return a, c, nil
}

// SetMaySendAsDomain implements store.Directory.
func (s *Store) SetMaySendAsDomain(ctx context.Context, address string, allow bool) error {
	return s.writeDirectory(ctx, func(tx pgx.Tx, _ *touched) error {
		tag, err := tx.Exec(ctx, `UPDATE accounts SET may_send_as_domain = $1 WHERE address = $2`, allow, address)
		return mustAffect(tag, err, "account "+address)
	})
}

// AddAlias implements store.Directory.
func (s *Store) AddAlias(ctx context.Context, address string, targets []string) error {
	domain, uniq, err := names.Alias(address, targets)
	if err != nil {
		return err
	}
	return s.writeDirectory(ctx, func(tx pgx.Tx, _ *touched) error {
		did, err := domainID(ctx, tx, domain)
		if err != nil {
			return err
		}
		var isAccount bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM accounts WHERE address = $1)`, address).Scan(&isAccount); err != nil {
			return err
		}
		if isAccount {
			return fmt.Errorf("alias %s: an account has that address: %w", address, store.ErrExists)
		}
		var missing string
		err = tx.QueryRow(ctx, `SELECT t FROM unnest($1::text[]) t
			WHERE NOT EXISTS (SELECT 1 FROM accounts WHERE address = t) LIMIT 1`, uniq).Scan(&missing)
		if err == nil {
			return fmt.Errorf("alias %s: target account %s: %w", address, missing, store.ErrNotFound)
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var id int64
		err = tx.QueryRow(ctx, `INSERT INTO aliases (address, domain_id, created) VALUES ($1, $2, $3) RETURNING id`,
			address, did, now()).Scan(&id)
		if isUniqueViolation(err) {
			return fmt.Errorf("alias %s: %w", address, store.ErrExists)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO alias_targets (alias_id, position, address)
			SELECT $1, p - 1, t FROM unnest($2::text[]) WITH ORDINALITY AS u(t, p)`, id, uniq)
		return err
	})
}

// RemoveAlias implements store.Directory.
func (s *Store) RemoveAlias(ctx context.Context, address string) error {
	return s.writeDirectory(ctx, func(tx pgx.Tx, _ *touched) error {
		tag, err := tx.Exec(ctx, `DELETE FROM aliases WHERE address = $1`, address)
		return mustAffect(tag, err, "alias "+address)
	})
}

// Aliases implements store.Directory.
func (s *Store) Aliases(ctx context.Context, domain string) ([]store.Alias, error) {
	return queryAll(s, ctx, `SELECT al.address, array_agg(t.address ORDER BY t.position) FROM aliases al
		JOIN domains d ON d.id = al.domain_id
		JOIN alias_targets t ON t.alias_id = al.id
		WHERE $1 = '' OR d.name = $1 GROUP BY al.address ORDER BY al.address`, []any{domain},
		func(r pgx.Rows) (store.Alias, error) {
			var a store.Alias
			return a, r.Scan(&a.Address, &a.Targets)
		})
}

// loadAlias reads an alias (Alias, through the cache).
func (s *Store) loadAlias(ctx context.Context, address string) (store.Alias, error) {
	var targets []string
	err := s.queryRow(ctx, `SELECT array_agg(t.address ORDER BY t.position) FROM aliases al
		JOIN alias_targets t ON t.alias_id = al.id WHERE al.address = $1`, []any{address}, &targets)
	if err != nil {
		return store.Alias{}, err
	}
	if len(targets) == 0 {
		return store.Alias{}, fmt.Errorf("alias %s: %w", address, store.ErrNotFound)
	}
	return store.Alias{Address: address, Targets: targets}, nil
}
