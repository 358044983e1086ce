package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Resolve finds the accounts that receive mail for local@domain (both
// already canonical, see smtp.Address.Canonical). It tries, in order: an
// account with that address, an alias with that address, the same two with
// a subaddress tag removed (user+tag@ with sep "+"; sep "" disables
// subaddressing), and the domain's catch-all alias "@domain". It returns
// ErrUnknownDomain when the domain is not ours and ErrNotFound when nothing
// matches. Duplicate accounts are returned once.
func Resolve(ctx context.Context, d Directory, local, domain, sep string) ([]Account, error) {
	ok, err := d.HasDomain(ctx, domain)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrUnknownDomain
	}
	candidates := []string{local + "@" + domain}
	if sep != "" {
		if i := strings.Index(local, sep); i > 0 {
			candidates = append(candidates, local[:i]+"@"+domain)
		}
	}
	for _, addr := range candidates {
		accts, err := lookupAddress(ctx, d, addr)
		if err == nil {
			return accts, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	accts, err := lookupAlias(ctx, d, "@"+domain)
	if err != nil {
		return nil, err
	}
	return accts, nil
}

func lookupAddress(ctx context.Context, d Directory, addr string) ([]Account, error) {
	a, err := d.Account(ctx, addr)
	if err == nil {
		return []Account{a}, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	return lookupAlias(ctx, d, addr)
}

func lookupAlias(ctx context.Context, d Directory, addr string) ([]Account, error) {
	al, err := d.Alias(ctx, addr)
	if err != nil {
		return nil, err
	}
	seen := map[int64]bool{}
	var out []Account
	for _, t := range al.Targets {
		a, err := d.Account(ctx, t)
		if errors.Is(err, ErrNotFound) {
			continue // a target removed after the alias was made
		}
		if err != nil {
			return nil, fmt.Errorf("alias %s: %w", addr, err)
		}
		if !seen[a.ID] {
			seen[a.ID] = true
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return out, nil
}
