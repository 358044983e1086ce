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
// subaddressing), and the domain's catch-all alias "@domain". Mail for
// postmaster@ a domain of ours that none of these names goes to the
// domain's oldest account (RFC 5321 §4.5.1: every domain must accept
// postmaster); an alias postmaster@domain sends it elsewhere. It returns
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
	if errors.Is(err, ErrNotFound) && local == "postmaster" {
		return oldestAccount(ctx, d, domain)
	}
	if err != nil {
		return nil, err
	}
	return accts, nil
}

// oldestAccount is the domain's first account created (lowest ID), the
// postmaster of last resort.
func oldestAccount(ctx context.Context, d Directory, domain string) ([]Account, error) {
	all, err := d.Accounts(ctx, domain)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("postmaster@%s: the domain has no accounts: %w", domain, ErrNotFound)
	}
	oldest := all[0]
	for _, a := range all[1:] {
		if a.ID < oldest.ID {
			oldest = a
		}
	}
	return []Account{oldest}, nil
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
