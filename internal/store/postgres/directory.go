package postgres

import (
	"context"

	"github.com/posthorn/posthorn/internal/store"
)

// AddDomain implements store.Directory; not written yet.
func (s *Store) AddDomain(ctx context.Context, name string) error {
	return unsupported("AddDomain")
}

// RemoveDomain implements store.Directory; not written yet.
func (s *Store) RemoveDomain(ctx context.Context, name string) error {
	return unsupported("RemoveDomain")
}

// Domains implements store.Directory; not written yet.
func (s *Store) Domains(ctx context.Context) ([]store.Domain, error) {
	return nil, unsupported("Domains")
}

// HasDomain implements store.Directory; not written yet.
func (s *Store) HasDomain(ctx context.Context, name string) (bool, error) {
	return false, unsupported("HasDomain")
}

// AddAccount implements store.Directory; not written yet.
func (s *Store) AddAccount(ctx context.Context, address string, cred store.Credentials) (store.Account, error) {
	return store.Account{}, unsupported("AddAccount")
}

// SetCredentials implements store.Directory; not written yet.
func (s *Store) SetCredentials(ctx context.Context, address string, cred store.Credentials) error {
	return unsupported("SetCredentials")
}

// RemoveAccount implements store.Directory; not written yet.
func (s *Store) RemoveAccount(ctx context.Context, address string) error {
	return unsupported("RemoveAccount")
}

// Accounts implements store.Directory; not written yet.
func (s *Store) Accounts(ctx context.Context, domain string) ([]store.Account, error) {
	return nil, unsupported("Accounts")
}

// Account implements store.Directory; not written yet.
func (s *Store) Account(ctx context.Context, address string) (store.Account, error) {
	return store.Account{}, unsupported("Account")
}

// Credentials implements store.Directory; not written yet.
func (s *Store) Credentials(ctx context.Context, address string) (store.Account, store.Credentials, error) {
	return store.Account{}, store.Credentials{}, unsupported("Credentials")
}

// SetMaySendAsDomain implements store.Directory; not written yet.
func (s *Store) SetMaySendAsDomain(ctx context.Context, address string, allow bool) error {
	return unsupported("SetMaySendAsDomain")
}

// SetQuota implements store.Directory; not written yet.
func (s *Store) SetQuota(ctx context.Context, address string, bytes int64) error {
	return unsupported("SetQuota")
}

// AddAppPassword implements store.Directory; not written yet.
func (s *Store) AddAppPassword(ctx context.Context, address, name string, cred store.Credentials) (store.AppPassword, error) {
	return store.AppPassword{}, unsupported("AddAppPassword")
}

// AppPasswords implements store.Directory; not written yet.
func (s *Store) AppPasswords(ctx context.Context, address string) ([]store.AppPassword, error) {
	return nil, unsupported("AppPasswords")
}

// RemoveAppPassword implements store.Directory; not written yet.
func (s *Store) RemoveAppPassword(ctx context.Context, address, name string) error {
	return unsupported("RemoveAppPassword")
}

// AddAlias implements store.Directory; not written yet.
func (s *Store) AddAlias(ctx context.Context, address string, targets []string) error {
	return unsupported("AddAlias")
}

// RemoveAlias implements store.Directory; not written yet.
func (s *Store) RemoveAlias(ctx context.Context, address string) error {
	return unsupported("RemoveAlias")
}

// Aliases implements store.Directory; not written yet.
func (s *Store) Aliases(ctx context.Context, domain string) ([]store.Alias, error) {
	return nil, unsupported("Aliases")
}

// Alias implements store.Directory; not written yet.
func (s *Store) Alias(ctx context.Context, address string) (store.Alias, error) {
	return store.Alias{}, unsupported("Alias")
}
