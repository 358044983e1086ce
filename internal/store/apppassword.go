package store

import "context"

// AppPasswordsOf finishes a backend's AppPasswords: list (and err) as
// read, except that no app password at all for an address that is no
// account is that account's ErrNotFound (from d.Account), so a typing
// error is not answered with an empty list. Both backends use it.
func AppPasswordsOf(ctx context.Context, d Directory, address string, list []AppPassword, err error) ([]AppPassword, error) {
	if err != nil || len(list) > 0 {
		return list, err
	}
	if _, err := d.Account(ctx, address); err != nil {
		return nil, err
	}
	return nil, nil
}
