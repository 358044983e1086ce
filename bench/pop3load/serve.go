package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
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
	svc := auth.NewService(st, auth.ServiceOptions{})
	var authn pop3server.Authenticator = svc
	if cache {
		ca := &cachingAuth{Service: svc, st: st, verified: map[[32]byte]store.Account{}}
		rand.Read(ca.key[:])
		authn = ca
	}
	srv := pop3server.New(pop3server.Options{
		Hostname:           "mail.example.test",
		AllowPlaintextAuth: true,
		Logger:             slog.New(slog.DiscardHandler),
	}, st, authn)
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

// cachingAuth is the auth service with a cache of verified passwords in
// front of Login: the experiment behind -authcache (a keyed hash of name,
// password and stored hash, as the proposed per-process cache would keep;
// not in the service).
type cachingAuth struct {
	*auth.Service
	st  store.Store
	key [32]byte

	mu       sync.Mutex
	verified map[[32]byte]store.Account
}

func (a *cachingAuth) Login(ctx context.Context, req auth.LoginRequest) (store.Account, error) {
	name := strings.ToLower(req.Username)
	_, cred, err := a.st.Credentials(ctx, name)
	if err != nil {
		return a.Service.Login(ctx, req)
	}
	m := hmac.New(sha256.New, a.key[:])
	m.Write([]byte(name + "\x00" + req.Password + "\x00" + cred.PasswordHash))
	var k [32]byte
	copy(k[:], m.Sum(nil))
	a.mu.Lock()
	acct, ok := a.verified[k]
	a.mu.Unlock()
	if ok {
		return acct, nil
	}
	acct, err = a.Service.Login(ctx, req)
	if err == nil {
		a.mu.Lock()
		a.verified[k] = acct
		a.mu.Unlock()
	}
	return acct, err
}
