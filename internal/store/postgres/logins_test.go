package postgres

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/testutil/syncbuf"
)

// throttleNode is one node's auth.Service with its throttle on a Store,
// on the clock all nodes share; its delays are recorded, not waited.
type throttleNode struct {
	svc  *auth.Service
	logs *syncbuf.Buffer

	mu    sync.Mutex
	slept []time.Duration
}

func newThrottleNode(t *testing.T, st *Store, c *fakeClock, opts auth.ThrottleOptions) *throttleNode {
	n := &throttleNode{logs: &syncbuf.Buffer{}}
	opts.Shared = st
	n.svc = auth.NewService(st, auth.ServiceOptions{
		Logger: slog.New(slog.NewTextHandler(n.logs, nil)),
		Now:    c.now,
		Sleep: func(_ context.Context, d time.Duration) error {
			n.mu.Lock()
			n.slept = append(n.slept, d)
			n.mu.Unlock()
			return nil
		},
		Throttle: opts,
	})
	return n
}

func (n *throttleNode) login(t *testing.T, user, password, ip string) error {
	t.Helper()
	_, err := n.svc.Login(t.Context(), auth.LoginRequest{Username: user, Password: password, RemoteIP: net.ParseIP(ip), Protocol: "imap"})
	return err
}

func (n *throttleNode) lastDelay() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.slept) == 0 {
		return 0
	}
	return n.slept[len(n.slept)-1]
}

func addLoginAccount(t *testing.T, st *Store, addr, password string) {
	t.Helper()
	ctx := t.Context()
	dom := addr[strings.IndexByte(addr, '@')+1:]
	if err := st.AddDomain(ctx, dom); err != nil && !strings.Contains(err.Error(), "exists") {
		t.Fatal(err)
	}
	cred, err := auth.NewCredentials(password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddAccount(ctx, addr, cred); err != nil {
		t.Fatal(err)
	}
}

// TestLoginThrottleAcrossNodes: failed logins on node A and node B count
// towards one lockout of the name, which then refuses the right password
// on both nodes until the window ends; the failure delays double across
// nodes; an IP's lockout applies on both nodes too.
func TestLoginThrottleAcrossNodes(t *testing.T) {
	sa, sb := twoNodes(t)
	c := newFakeClock()
	opts := auth.ThrottleOptions{MaxFailuresPerAccount: 4, MaxFailuresPerIP: 6, Window: 10 * time.Minute}
	a, b := newThrottleNode(t, sa, c, opts), newThrottleNode(t, sb, c, opts)
	addLoginAccount(t, sa, "alice@example.org", "correct horse")
	// Each guess from another IP, so only the name's count matters.
	for i, n := range []*throttleNode{a, b, a, b} {
		if err := n.login(t, "alice@example.org", "guess", "198.51.100."+string(rune('1'+i))); !errors.Is(err, auth.ErrFailed) {
			t.Fatalf("guess %d: %v, want ErrFailed", i+1, err)
		}
		if want := time.Second << i; n.lastDelay() != want {
			t.Errorf("guess %d: delay %v, want %v (the name's count across nodes)", i+1, n.lastDelay(), want)
		}
	}
	var te *auth.ThrottledError
	for name, n := range map[string]*throttleNode{"A": a, "B": b} {
		if err := n.login(t, "alice@example.org", "correct horse", "192.0.2.200"); !errors.As(err, &te) {
			t.Errorf("node %s: right password after 2+2 failures: %v, want *ThrottledError", name, err)
		}
	}
	c.add(opts.Window + time.Second)
	if err := b.login(t, "alice@example.org", "correct horse", "192.0.2.200"); err != nil {
		t.Errorf("node B after the lockout: %v", err)
	}

	// One IP guessing many names, spread over both nodes.
	for i := range 6 {
		[]*throttleNode{a, b}[i%2].login(t, "user"+string(rune('a'+i))+"@example.org", "x", "203.0.113.9")
	}
	for name, n := range map[string]*throttleNode{"A": a, "B": b} {
		if err := n.login(t, "alice@example.org", "correct horse", "203.0.113.9"); !errors.As(err, &te) {
			t.Errorf("node %s: locked-out IP: %v, want *ThrottledError", name, err)
		}
	}
	if err := a.login(t, "alice@example.org", "correct horse", "203.0.113.10"); err != nil {
		t.Errorf("another IP: %v", err)
	}
}

// TestLoginThrottleSuccessClears: a success on node B clears the failures
// of the name made on node A (the next failure starts again at one);
// and a success of a name without failures writes nothing: it goes
// through while login_failures is locked against writes.
func TestLoginThrottleSuccessClears(t *testing.T) {
	sa, sb := twoNodes(t)
	c := newFakeClock()
	opts := auth.ThrottleOptions{MaxFailuresPerAccount: 4, MaxFailuresPerIP: 100, Window: 10 * time.Minute}
	a, b := newThrottleNode(t, sa, c, opts), newThrottleNode(t, sb, c, opts)
	addLoginAccount(t, sa, "bob@example.org", "battery staple")
	addLoginAccount(t, sa, "carol@example.org", "correct horse")
	for i := range 3 {
		a.login(t, "bob@example.org", "guess", "198.51.100."+string(rune('1'+i)))
	}
	if err := b.login(t, "bob@example.org", "battery staple", "192.0.2.1"); err != nil {
		t.Fatalf("node B, right password after 3 failures on A: %v", err)
	}
	if err := a.login(t, "bob@example.org", "guess", "198.51.100.9"); !errors.Is(err, auth.ErrFailed) {
		t.Fatalf("failure after the success: %v, want ErrFailed (not locked out: the success cleared the name)", err)
	}
	if a.lastDelay() != time.Second {
		t.Errorf("delay of the first failure after a success: %v, want 1s", a.lastDelay())
	}

	// No write for a success without failures: hold a lock that blocks
	// writes to login_failures (reads go on) and log in on both nodes.
	ctx := t.Context()
	tx, err := sa.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `LOCK TABLE login_failures IN EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]*throttleNode{"A": a, "B": b} {
		lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := n.svc.Login(lctx, auth.LoginRequest{Username: "carol@example.org", Password: "correct horse", RemoteIP: net.ParseIP("192.0.2.7"), Protocol: "imap"})
		cancel()
		if err != nil {
			t.Errorf("node %s: login: %v", name, err)
		}
		if logs := n.logs.String(); strings.Contains(logs, "clearing login failures") {
			t.Errorf("node %s: a success without failures tried to write:\n%s", name, logs)
		}
	}
}
