package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/pop3server"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/sqlite"
)

// serve runs posthorn's POP3 engine on a fresh SQLite store in dir with
// the given users, each with n messages of kb KiB, until SIGINT/SIGTERM.
// It prints "ready" when it accepts connections.
func serve(addr, dir string, users []user, n, kb int, cache bool) error {
	if dir == "" {
		return errors.New("serve needs -dir")
	}
	ctx := context.Background()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "mail.db"), sqlite.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.AddDomain(ctx, "example.test"); err != nil && !errors.Is(err, store.ErrExists) {
		return err
	}
	body := benchMessage(kb)
	for _, u := range users {
		cred, err := auth.NewCredentials(u.password)
		if err != nil {
			return err
		}
		acct, err := st.AddAccount(ctx, u.name, cred)
		if errors.Is(err, store.ErrExists) {
			if err := st.SetCredentials(ctx, u.name, cred); err != nil {
				return err
			}
			acct, err = st.Account(ctx, u.name)
		}
		if err != nil {
			return err
		}
		mb, err := st.Mailbox(ctx, acct.ID, store.Inbox)
		if err != nil {
			return err
		}
		have, err := st.Messages(ctx, mb.ID)
		if err != nil {
			return err
		}
		for i := len(have); i < n; i++ {
			if _, err := st.Deliver(ctx, store.Delivery{Body: body, Targets: []store.Target{{AccountID: acct.ID}}}); err != nil {
				return err
			}
		}
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := pop3server.New(pop3server.Options{
		Hostname:           "mail.example.test",
		AllowPlaintextAuth: true,
		Logger:             slog.New(slog.DiscardHandler),
	}, st, &passwordAuth{st: st, cache: cache, verified: map[string]string{}})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case err := <-done:
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// benchMessage is a message of kb KiB in 76-octet lines.
func benchMessage(kb int) []byte {
	var b strings.Builder
	b.WriteString("From: bench@example.org\r\nTo: alice@example.test\r\nSubject: pop3 bench\r\nMessage-ID: <bench@example.org>\r\n\r\n")
	for b.Len() < kb<<10 {
		b.WriteString(strings.Repeat("x", 74) + "\r\n")
	}
	return []byte(b.String())
}

// passwordAuth checks USER/PASS against the store's argon2id hashes, like
// the shared auth service; with cache it remembers verified passwords
// in memory (what the proposed per-process cache would do).
type passwordAuth struct {
	st    store.Store
	cache bool

	mu       sync.Mutex
	verified map[string]string
}

func (a *passwordAuth) Login(ctx context.Context, req pop3server.LoginRequest) (store.Account, error) {
	name := strings.ToLower(req.Username)
	acct, cred, err := a.st.Credentials(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return store.Account{}, pop3server.ErrAuthFailed
	}
	if err != nil {
		return store.Account{}, err
	}
	if a.cache {
		a.mu.Lock()
		ok := a.verified[cred.PasswordHash] == req.Password
		a.mu.Unlock()
		if ok {
			return acct, nil
		}
	}
	if auth.VerifyPassword(cred.PasswordHash, req.Password) != nil {
		return store.Account{}, pop3server.ErrAuthFailed
	}
	if a.cache {
		a.mu.Lock()
		a.verified[cred.PasswordHash] = req.Password
		a.mu.Unlock()
	}
	return acct, nil
}

func (a *passwordAuth) Mechanisms(tls bool) []string { return nil }

func (a *passwordAuth) NewSASL(mech string, c pop3server.SASLConn) (pop3server.SASL, error) {
	return nil, errors.New("no SASL in the bench server")
}
