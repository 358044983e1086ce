package pop3server

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// benchBody is a 10 KiB message of 76-character lines, some starting
// with ".".
func benchBody() string {
	var b strings.Builder
	b.WriteString("From: bench@example.org\r\nTo: alice@example.test\r\nSubject: bench\r\n\r\n")
	for i := 0; b.Len() < 10<<10; i++ {
		if i%20 == 0 {
			b.WriteString(".")
		}
		b.WriteString(strings.Repeat("x", 74) + "\r\n")
	}
	return b.String()
}

// BenchmarkRETR measures RETR throughput of one session on loopback,
// reading every reply to its end.
func BenchmarkRETR(b *testing.B) {
	e := newEnv(b)
	body := benchBody()
	const n = 100
	for range n {
		e.deliver(b, e.alice, body)
	}
	_, addr := e.start(b, Options{AllowPlaintextAuth: true})
	c := dialGreeted(b, addr)
	c.login(alice, alicePW)
	b.SetBytes(int64(len(body)))
	i := 0
	for b.Loop() {
		c.NC.SetDeadline(time.Now().Add(testTimeout))
		fmt.Fprintf(c.NC, "RETR %d\r\n", i%n+1)
		i++
		l, err := c.R.ReadSlice('\n')
		if err != nil || !bytes.HasPrefix(l, []byte("+OK")) {
			b.Fatalf("RETR: %q, %v", l, err)
		}
		for {
			l, err := c.R.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if len(l) == 3 && l[0] == '.' {
				break
			}
		}
	}
}

// BenchmarkLogin measures a whole POP3 login (connect, greeting, USER,
// PASS with the maildrop opened, QUIT) over loopback: "engine" with the
// password check remembered, "argon2id" verifying every time.
func BenchmarkLogin(b *testing.B) {
	for _, mode := range []string{"engine", "argon2id"} {
		b.Run(mode, func(b *testing.B) {
			e := newEnv(b)
			e.auth.noCache = mode == "argon2id"
			for range 10 {
				e.deliver(b, e.alice, msg1)
			}
			_, addr := e.start(b, Options{AllowPlaintextAuth: true})
			for b.Loop() {
				c := dialGreeted(b, addr)
				c.login(alice, alicePW)
				c.cmd("QUIT", "+OK")
				c.NC.Close()
			}
		})
	}
}
