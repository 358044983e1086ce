package test

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/store/postgres/pgtest"
)

// devCluster is two dev-mode nodes, A and B, on two loopback addresses
// sharing one PostgreSQL database: what an operator runs behind a load
// balancer, with dev mode's certificates and accounts.
type devCluster struct {
	a, b *devServer
	dsn  string
}

// startDevCluster starts node A, then node B from a copy of A's dev.json
// (the demo passwords are in the shared database: B keeps A's instead of
// setting new ones).
func startDevCluster(t *testing.T) devCluster {
	t.Helper()
	dsn := pgtest.DSN(t)
	base := loopbackIP(t)
	ipB := base[:strings.LastIndexByte(base, '.')+1] + "251"
	root := t.TempDir()
	a := startDevArgs(t, filepath.Join(root, "a"), base, "-store-dsn", dsn)
	dirB := filepath.Join(root, "b")
	if err := os.MkdirAll(dirB, 0o700); err != nil {
		t.Fatal(err)
	}
	info, err := os.ReadFile(filepath.Join(root, "a", "dev.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dirB, "dev.json"), info, 0o600); err != nil {
		t.Fatal(err)
	}
	b := startDevArgs(t, dirB, ipB, "-store-dsn", dsn)
	if a.info.Store != "postgres" || b.info.Store != "postgres" {
		t.Fatalf("dev.json store: A %q, B %q, want postgres", a.info.Store, b.info.Store)
	}
	// Each dev node has its own name for the leases it takes.
	cfgA, errA := config.Load(a.info.ConfigFile)
	cfgB, errB := config.Load(b.info.ConfigFile)
	if errA != nil || errB != nil || cfgA.Node == cfgB.Node || !strings.HasPrefix(cfgA.Node, "dev-") {
		t.Fatalf("dev node names: A %q (%v), B %q (%v); want two dev-ADDRESS names", cfgA.Node, errA, cfgB.Node, errB)
	}
	for i := range a.info.Accounts {
		if a.info.Accounts[i] != b.info.Accounts[i] {
			t.Fatalf("node B changed the shared account %s", a.info.Accounts[i].Address)
		}
	}
	return devCluster{a: a, b: b, dsn: dsn}
}

// idleReader collects the untagged responses of an IMAP connection in IDLE,
// each with the moment it was read.
type idleLine struct {
	line string
	at   time.Time
}

func idleLines(t *testing.T, c *rawIMAP) <-chan idleLine {
	t.Helper()
	c.tag++
	fmt.Fprintf(c.conn, "q%d IDLE\r\n", c.tag)
	if l := c.response(time.Minute); !strings.HasPrefix(l, "+") {
		t.Fatalf("IDLE: %q", l)
	}
	c.conn.SetReadDeadline(time.Time{})
	out := make(chan idleLine, 1000)
	go func() {
		defer close(out)
		for {
			line, err := c.r.ReadString('\n')
			if err != nil {
				return
			}
			out <- idleLine{strings.TrimRight(line, "\r\n"), time.Now()}
		}
	}()
	return out
}

// waitLine waits (bounded) for an untagged response that satisfies match.
func waitLine(t *testing.T, lines <-chan idleLine, limit time.Duration, what string, match func(string) bool) idleLine {
	t.Helper()
	deadline := time.After(limit)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("connection closed while waiting for %s", what)
			}
			if match(l.line) {
				return l
			}
		case <-deadline:
			t.Fatalf("no %s within %v", what, limit)
		}
	}
}

// TestClusterIDLEAcrossNodes: mail delivered over SMTP to node A wakes an
// IMAP IDLE session on node B (LISTEN/NOTIFY through the shared database):
// * N EXISTS within 1 s of the end of DATA, p99 over 30 deliveries.
func TestClusterIDLEAcrossNodes(t *testing.T) {
	const deliveries = 30
	cl := startDevCluster(t)
	tgB := devIMAPTarget(t, cl.b)
	c := dialIMAPS(t, tgB)
	n0 := existsIn(c.mustOK(time.Minute, "SELECT INBOX"))
	lines := idleLines(t, c)

	sc, err := smtp.Dial(cl.a.smtpAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if err := sc.Hello("cluster-test.example.org"); err != nil {
		t.Fatal(err)
	}
	var fromData []time.Duration
	for i := 1; i <= deliveries; i++ {
		atDot, _ := deliverOne(t, sc, tgB.user, i)
		want := fmt.Sprintf("* %d EXISTS", n0+i)
		l := waitLine(t, lines, 30*time.Second, want+" on node B", func(s string) bool { return s == want })
		fromData = append(fromData, l.at.Sub(atDot))
	}
	sc.Quit()
	p50, p99 := percentiles(fromData)
	t.Logf("SMTP on node A -> IDLE on node B, end of DATA -> * N EXISTS over %d deliveries: median %v, p99 %v", deliveries, p50, p99)
	if p99 > time.Second {
		t.Errorf("cross-node IDLE p99 %v, want under 1 s", p99)
	}
}

// TestClusterFlagsAcrossNodes: STORE on node B reaches node A's sessions:
// one in IDLE gets the untagged FETCH at once, one selected gets it at its
// next NOOP, and a FETCH FLAGS on A shows the flag; an expunge through
// POP3 on A (DELE, QUIT) reaches an IMAP session on B as EXPUNGE.
func TestClusterFlagsAcrossNodes(t *testing.T) {
	cl := startDevCluster(t)
	tgA, tgB := devIMAPTarget(t, cl.a), devIMAPTarget(t, cl.b)
	sc, err := smtp.Dial(cl.a.smtpAddr())
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Hello("cluster-test.example.org"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		deliverOne(t, sc, tgA.user, i)
	}
	sc.Quit()

	idleA := dialIMAPS(t, tgA)
	if n := existsIn(idleA.mustOK(time.Minute, "SELECT INBOX")); n != 2 {
		t.Fatalf("node A: SELECT gave %d EXISTS, want 2", n)
	}
	lines := idleLines(t, idleA)
	noopA := dialIMAPS(t, tgA)
	noopA.mustOK(time.Minute, "SELECT INBOX")

	onB := dialIMAPS(t, tgB)
	if n := existsIn(onB.mustOK(time.Minute, "SELECT INBOX")); n != 2 {
		t.Fatalf("node B: SELECT gave %d EXISTS, want 2", n)
	}
	start := time.Now()
	onB.mustOK(time.Minute, `STORE 1 +FLAGS.SILENT (\Flagged $Cluster)`)
	flagged := func(s string) bool {
		return strings.HasPrefix(s, "* 1 FETCH") && strings.Contains(s, `\Flagged`) && strings.Contains(s, "$Cluster")
	}
	l := waitLine(t, lines, 30*time.Second, "* 1 FETCH with the new flags in node A's IDLE", flagged)
	t.Logf("STORE on node B -> FETCH in IDLE on node A: %v", l.at.Sub(start))
	if d := l.at.Sub(start); d > time.Second {
		t.Errorf("flag change took %v to reach node A's IDLE session, want under 1 s", d)
	}
	found := false
	for _, u := range noopA.mustOK(time.Minute, "NOOP") {
		found = found || flagged(u)
	}
	if !found {
		t.Errorf("NOOP on node A did not report the flags set on node B")
	}
	fresh := dialIMAPS(t, tgA)
	fresh.mustOK(time.Minute, "EXAMINE INBOX")
	u := fresh.mustOK(time.Minute, "FETCH 1:2 (FLAGS)")
	if len(u) != 2 || !flagged(u[0]) || strings.Contains(u[1], `\Flagged`) {
		t.Errorf("FETCH FLAGS on node A: %q", u)
	}

	// POP3 on A while IMAP on B: RETR the first message, DELE it, QUIT;
	// B's selected session hears the expunge at its next NOOP.
	pop := dialPOP3S(t, net.JoinHostPort(cl.a.info.Host, itoa(cl.a.info.Ports["pop3s"])), tgA.tls)
	pop.ok("USER " + tgA.user)
	pop.ok("PASS " + tgA.pass)
	if st := pop.ok("STAT"); !strings.HasPrefix(st, "+OK 2 ") {
		t.Fatalf("POP3 STAT on node A: %q, want 2 messages", st)
	}
	if body := pop.retr(1); !strings.Contains(body, "Subject: idle latency 1") {
		t.Errorf("POP3 RETR 1 on node A: %q", body)
	}
	pop.ok("DELE 1")
	pop.ok("QUIT")
	var expunged bool
	for _, u := range onB.mustOK(time.Minute, "NOOP") {
		expunged = expunged || u == "* 1 EXPUNGE"
	}
	if !expunged {
		t.Errorf("node B's IMAP session got no * 1 EXPUNGE after POP3 DELE and QUIT on node A")
	}
	if n := existsIn(dialIMAPS(t, tgB).mustOK(time.Minute, "EXAMINE INBOX")); n != 1 {
		t.Errorf("node B: %d messages after the POP3 DELE on node A, want 1", n)
	}
}

// TestClusterAPIStatusAcrossNodes: a message sent through the HTTP API of
// node A has its status on node B: delivered to the local recipient,
// queued for the remote one (dev mode keeps outbound mail queued).
func TestClusterAPIStatusAcrossNodes(t *testing.T) {
	cl := startDevCluster(t)
	key, err := run(t, nil, "apikey", "create", "-config", cl.a.info.ConfigFile, "cluster", "example.test")
	if err != nil {
		t.Fatalf("apikey create: %v\n%s", err, key)
	}
	key = regexp.MustCompile(`ph_[0-9a-z]{52}`).FindString(key)
	if key == "" {
		t.Fatal("apikey create printed no key")
	}
	call := func(s *devServer, method, path, body string) map[string]any {
		t.Helper()
		req, err := http.NewRequest(method, fmt.Sprintf("http://%s:%d%s", s.info.Host, s.info.Ports["http"], path), strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s on %s: %s\n%s", method, path, s.info.Host, resp.Status, b)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
		return m
	}
	sent := call(cl.a, "POST", "/api/v1/messages", `{"from": "app@example.test", "to": ["bob@example.test", "someone@remote.example"], "subject": "cluster", "text": "hello"}`)
	id, _ := sent["id"].(string)
	if id == "" {
		t.Fatalf("POST on node A gave no id: %v", sent)
	}
	got := call(cl.b, "GET", "/api/v1/messages/"+id, "")
	status := map[string]string{}
	rs, _ := got["recipients"].([]any)
	for _, r := range rs {
		m, _ := r.(map[string]any)
		status[fmt.Sprint(m["email"])] = fmt.Sprint(m["status"])
	}
	if got["id"] != id || status["bob@example.test"] != "delivered" || status["someone@remote.example"] != "queued" {
		t.Errorf("GET on node B of the message sent through node A: %v", got)
	}
}

// pop3Conn is a minimal POP3 client over implicit TLS.
type pop3Conn struct {
	t    *testing.T
	conn *tls.Conn
	r    *bufio.Reader
}

func dialPOP3S(t *testing.T, addr string, cfg *tls.Config) *pop3Conn {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(time.Minute))
	p := &pop3Conn{t: t, conn: conn, r: bufio.NewReader(conn)}
	if g := p.line(); !strings.HasPrefix(g, "+OK") {
		t.Fatalf("POP3 greeting %q", g)
	}
	return p
}

func (p *pop3Conn) line() string {
	p.t.Helper()
	l, err := p.r.ReadString('\n')
	if err != nil {
		p.t.Fatalf("POP3: %v", err)
	}
	return strings.TrimRight(l, "\r\n")
}

// ok sends a command and fails the test unless it answers +OK.
func (p *pop3Conn) ok(cmd string) string {
	p.t.Helper()
	fmt.Fprintf(p.conn, "%s\r\n", cmd)
	l := p.line()
	if !strings.HasPrefix(l, "+OK") {
		p.t.Fatalf("POP3 %s: %q", strings.Fields(cmd)[0], l)
	}
	return l
}

// retr returns message n as RETR gives it (dot-stuffing left in).
func (p *pop3Conn) retr(n int) string {
	p.t.Helper()
	p.ok(fmt.Sprintf("RETR %d", n))
	var b strings.Builder
	for {
		l := p.line()
		if l == "." {
			return b.String()
		}
		b.WriteString(l + "\r\n")
	}
}
