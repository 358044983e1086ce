package pop3server

import (
	"bufio"
	"bytes"
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testutil/linetest"
)

// FuzzCommand checks the command parser: no panic, and a parsed command
// is exactly what the line says (seed corpus in testdata/fuzz).
func FuzzCommand(f *testing.F) {
	for _, s := range []string{"USER alice@example.test", "PASS a b  c", "LIST 1", "top 1 10", "AUTH PLAIN =", "STLS", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmd, err := parseCommand(line)
		if err != nil {
			return
		}
		if strings.ContainsAny(line, "\x00\r\n") {
			t.Fatalf("parsed a line with NUL, CR or LF: %q", line)
		}
		if len(cmd.name) < 3 || len(cmd.name) > 4 || strings.ToUpper(cmd.name) != cmd.name {
			t.Fatalf("keyword %q from %q", cmd.name, line)
		}
		for _, c := range []byte(cmd.name) {
			if c < 'A' || c > 'Z' {
				t.Fatalf("keyword %q from %q", cmd.name, line)
			}
		}
		rebuilt := line[:len(cmd.name)]
		if strings.Contains(line, " ") {
			rebuilt += " " + cmd.rest
		}
		if rebuilt != line || !strings.EqualFold(rebuilt[:len(cmd.name)], cmd.name) {
			t.Fatalf("%q parsed as %+v", line, cmd)
		}
		if !slices.Equal(cmd.args, strings.Fields(cmd.rest)) {
			t.Fatalf("%q: args %q", line, cmd.args)
		}
		for _, a := range cmd.args {
			n, ok := parseNumber(a)
			if ok && n != maxNumber && strings.TrimLeft(a, "0") != strings.TrimLeft(strconv.Itoa(n), "0") {
				t.Fatalf("parseNumber(%q) = %d", a, n)
			}
			if ok && (n < 0 || n > maxNumber) {
				t.Fatalf("parseNumber(%q) = %d, out of range", a, n)
			}
		}
	})
}

// FuzzWire checks that RETR's output, with the stuffing undone, has
// exactly the octets STAT and LIST announce, that a CRLF body comes back
// unchanged, and that the fast and the line-by-line writers agree.
func FuzzWire(f *testing.F) {
	for _, s := range []string{msg1, msg2, msg3, "", ".", "\n", "\r", "a\nb", ".\r\n.\r\n", "x\r\r\n.y", "\r\n..\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast, slow bytes.Buffer
		w := bufio.NewWriter(&fast)
		if err := writeMessage(w, body); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		w = bufio.NewWriter(&slow)
		if err := writeLines(w, body, -1); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		if !bytes.Equal(fast.Bytes(), slow.Bytes()) {
			t.Fatalf("writers disagree on %q:\n%q\n%q", body, fast.Bytes(), slow.Bytes())
		}
		out := fast.Bytes()
		if len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
			t.Fatalf("%q: output %q does not end in CRLF", body, out)
		}
		var unstuffed []byte
		for line := range bytes.SplitAfterSeq(out, []byte("\r\n")) {
			if len(line) == 0 {
				continue
			}
			if string(line) == ".\r\n" {
				t.Fatalf("%q: output %q has a terminator line", body, out)
			}
			if line[0] == '.' {
				// Every line that starts with "." was stuffed.
				if !bytes.HasPrefix(line, []byte("..")) {
					t.Fatalf("%q: unstuffed line %q", body, line)
				}
				line = line[1:]
			}
			unstuffed = append(unstuffed, line...)
		}
		if int64(len(unstuffed)) != wireSize(body) {
			t.Fatalf("%q: %d octets sent, wireSize %d", body, len(unstuffed), wireSize(body))
		}
		if crlfClean(body) && !bytes.Equal(unstuffed, body) {
			t.Fatalf("CRLF body %q came back as %q", body, unstuffed)
		}
	})
}

// FuzzSession feeds arbitrary client bytes to a server over loopback and
// checks that the session ends, every line sent ends in CRLF, the maildrop
// lock is given back, and nothing is deleted without a QUIT.
func FuzzSession(f *testing.F) {
	login := "USER " + alice + "\r\nPASS " + alicePW + "\r\n"
	for _, s := range []string{
		login + "STAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nTOP 1 1\r\nDELE 2\r\nRSET\r\nDELE 3\r\nQUIT\r\n",
		login + "DELE 1\r\nDELE 2\r\nDELE 3\r\n",
		"CAPA\r\nAUTH PLAIN " + plainResp(alice, alicePW) + "\r\nLIST 1 2\r\nTOP 1 -1\r\nRETR 99999999999\r\n",
		"AUTH PLAIN\r\n*\r\nAUTH PLAIN\r\n%%%\r\nSTLS\r\nUSER x\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"\x00\xff\r\n\r\n\n\r.\r\n" + strings.Repeat("A", 700) + "\r\n",
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f)
	srvTLS, _, _ := testTLS(f)
	_, addr := e.start(f, Options{AllowPlaintextAuth: true, TLSConfig: srvTLS, MaxLineLength: 512, IdleTimeout: 3 * time.Second})
	for _, b := range []string{msg1, msg2, msg3} {
		e.deliver(f, e.alice, b)
	}

	f.Fuzz(func(t *testing.T, in []byte) {
		count := func() int {
			msgs, err := e.st.Messages(context.Background(), e.aliceInboxID)
			if err != nil {
				t.Fatal(err)
			}
			return len(msgs)
		}
		before := count()
		linetest.Session(t, addr, in, testTimeout, func(l string) bool { return strings.HasSuffix(l, "\r\n") })
		// The session gave its maildrop lock back before it closed.
		if ok, err := e.st.LockMaildrop(context.Background(), e.alice.ID, "fuzz-check", time.Now(), time.Minute); err != nil || !ok {
			t.Fatalf("maildrop lock still held after the session ended (%v)", err)
		}
		if err := e.st.UnlockMaildrop(context.Background(), e.alice.ID, "fuzz-check"); err != nil {
			t.Fatal(err)
		}
		after := count()
		if after != before && !bytes.Contains(bytes.ToUpper(in), []byte("QUIT")) {
			t.Fatalf("%d messages deleted without QUIT", before-after)
		}
		for ; after < 3; after++ {
			e.deliver(t, e.alice, msg2)
		}
	})
}
