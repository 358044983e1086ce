package test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// imapLogin connects to an implicit-TLS IMAP server, sends LOGIN and
// returns its tagged status ("OK ...", "NO [...] ..."). Safe to call from
// any goroutine.
func imapLogin(tg imapTarget, user, pass string) (string, error) {
	conn, err := tls.Dial("tcp", tg.addr, tg.tls)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	r := bufio.NewReader(conn)
	if g, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(g, "* OK") {
		return "", fmt.Errorf("greeting %q: %v", g, err)
	}
	if _, err := fmt.Fprintf(conn, "a LOGIN %s %s\r\n", quoteIMAP(user), quoteIMAP(pass)); err != nil {
		return "", err
	}
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if rest, ok := strings.CutPrefix(l, "a "); ok {
			return strings.TrimRight(rest, "\r\n"), nil
		}
	}
}

// TestClusterLoginLockout: failed IMAP logins for one account, half on
// node A and half on node B, add up to one lockout (the default 10
// failures per name) that then refuses the right password on both nodes
// with NO [UNAVAILABLE]: a guesser spread over the nodes gets the
// attempts of one node, not twice as many.
func TestClusterLoginLockout(t *testing.T) {
	const failures = 10 // [auth] max_failures_per_account's default
	cl := startDevCluster(t)
	tgA, tgB := devIMAPTarget(t, cl.a), devIMAPTarget(t, cl.b)
	// The guesses run at once: each answer is delayed (up to 8 s).
	var wg sync.WaitGroup
	status := make([]string, failures)
	errs := make([]error, failures)
	for i := range failures {
		tg := tgA
		if i%2 == 1 {
			tg = tgB
		}
		wg.Go(func() { status[i], errs[i] = imapLogin(tg, tg.user, "not-the-password") })
	}
	wg.Wait()
	for i := range failures {
		if errs[i] != nil || !strings.HasPrefix(status[i], "NO [AUTHENTICATIONFAILED]") {
			t.Fatalf("wrong password %d: %q, %v; want NO [AUTHENTICATIONFAILED]", i+1, status[i], errs[i])
		}
	}
	for name, tg := range map[string]imapTarget{"A": tgA, "B": tgB} {
		st, err := imapLogin(tg, tg.user, tg.pass)
		if err != nil || !strings.HasPrefix(st, "NO [UNAVAILABLE]") {
			t.Errorf("node %s, right password after %d failures on A and %d on B: %q, %v; want NO [UNAVAILABLE] (locked out)",
				name, failures/2, failures/2, st, err)
		}
	}
}
