package test

import (
	"context"
	"errors"
	"fmt"
	"net/smtp"
	"net/textproto"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/delivery/deliverytest"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/postgres"
	"github.com/posthorn/posthorn/internal/store/postgres/pgtest"
)

// TestClusterGreylisting: two posthorn nodes on one PostgreSQL database
// greylist as one. A new sender is refused with 451 4.7.1 by node A; its
// retry after the configured delay, its first attempt on node B, is
// accepted (a node with state of its own would greylist it again); then
// node A lets the client's network in for another sender at once
// (auto-allowlisting across nodes).
func TestClusterGreylisting(t *testing.T) {
	const delay = 2 * time.Second
	zones := dnstest.Start(t, dnstest.Zone{Origin: "sender.test", Records: `@ TXT "v=spf1 ip4:127.0.0.0/8 -all"` + "\n"})
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	st, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.AddDomain(ctx, "grey.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddAccount(ctx, "user@grey.test", store.Credentials{}); err != nil {
		t.Fatal(err)
	}

	n := newOutboundNet(t)
	root := t.TempDir()
	node := func(name, ip string) (*devServer, string) {
		dir := filepath.Join(root, name)
		addr := fmt.Sprintf("%s:%d", ip, deliverytest.FreePort(t, ip))
		cfg := serveConfig("mx-"+name+".grey.test", filepath.Join(dir, "data"), "smtp", addr, zones.Addr()) +
			fmt.Sprintf("[store]\nbackend = \"postgres\"\ndsn = %q\n", dsn) +
			fmt.Sprintf("[checks]\ntrusted_networks = []\ngreylisting = true\ngreylist_delay = %q\n", delay.String())
		return startServe(t, dir, cfg, addr), addr
	}
	a, addrA := node("a", n.a)
	b, addrB := node("b", n.b)

	send := func(addr, from string) error {
		c, err := smtp.Dial(addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Hello("client.sender.test"); err != nil {
			return err
		}
		if err := c.Mail(from); err != nil {
			return err
		}
		if err := c.Rcpt("user@grey.test"); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "From: <%s>\r\nTo: <user@grey.test>\r\nSubject: greylisting across nodes\r\n\r\nbody\r\n", from)
		if err := w.Close(); err != nil {
			return err
		}
		return c.Quit()
	}
	greylisted := func(err error) bool {
		var te *textproto.Error
		return errors.As(err, &te) && te.Code == 451 && strings.HasPrefix(te.Msg, "4.7.1")
	}

	if err := send(addrA, "first@sender.test"); !greylisted(err) {
		t.Fatalf("first attempt on node A: %v, want 451 4.7.1", err)
	}
	// The retry comes once the delay has passed since node A's answer
	// (its record is older), and goes to node B, which never saw it.
	time.Sleep(delay + 500*time.Millisecond)
	if err := send(addrB, "first@sender.test"); err != nil {
		t.Fatalf("retry after the delay on node B: %v, want accepted (node A's first attempt not shared?)\nnode B:\n%s", err, b.out.String())
	}
	// Node A has only seen a refusal; the pass on B made the client's
	// network known in the database.
	if err := send(addrA, "second@sender.test"); err != nil {
		t.Fatalf("another sender of the same network on node A: %v, want accepted (auto-allowlist across nodes)", err)
	}
	acct, err := st.Account(ctx, "user@grey.test")
	if err != nil {
		t.Fatal(err)
	}
	mb, err := st.Mailbox(ctx, acct.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	if msgs, err := st.Messages(ctx, mb.ID); err != nil || len(msgs) != 2 {
		t.Fatalf("INBOX: %d messages (%v), want 2", len(msgs), err)
	}
	for _, s := range []*devServer{a, b} {
		if err := s.stop(syscall.SIGTERM); err != nil {
			t.Errorf("SIGTERM: %v", err)
		}
	}
}
