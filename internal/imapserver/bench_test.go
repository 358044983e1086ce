package imapserver

import (
	"testing"
)

// BenchmarkNoop measures the session's per-command overhead: one NOOP
// round trip on a logged-in connection with INBOX selected.
func BenchmarkNoop(b *testing.B) {
	e := newEnv(b)
	e.deliver(b, e.alice, "Subject: x\r\n\r\ny\r\n")
	c := loggedIn(b, e.plain(b))
	c.ok("s", "SELECT INBOX")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c.Send("n NOOP")
		c.Expect("n OK")
	}
}

// BenchmarkLoginLogout measures a connection's life: greeting, LOGIN
// (its password check remembered), SELECT, LOGOUT.
func BenchmarkLoginLogout(b *testing.B) {
	e := newEnv(b)
	addr := e.plain(b)
	loggedIn(b, addr).ok("z", "LOGOUT") // warm the password check
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c := loggedIn(b, addr)
		c.ok("s", "SELECT INBOX")
		c.Send("z LOGOUT")
		c.until("z")
		c.NC.Close()
	}
}
