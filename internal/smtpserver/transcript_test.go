package smtpserver

import (
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/certs/certstest"
)

// closed in a step's want means: the server has closed the connection.
const closed = "CLOSED"

type step struct {
	send string   // written as is
	want []string // reply prefixes, in order, read after send
}

func s(send string, want ...string) step { return step{send, want} }

var ehlo = s("EHLO client.test\r\n", "250 ")

func TestTranscripts(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 2100)
	tests := []struct {
		name     string
		opts     Options
		steps    []step
		wantMsgs int
		wantBody string // when wantMsgs == 1
	}{
		{
			name: "accepted message",
			steps: []step{ehlo,
				s("MAIL FROM:<a@b.test>\r\n", "250 2.0.0"),
				s("RCPT TO:<c@d.test>\r\n", "250 2.0.0"),
				s("DATA\r\n", "354 "),
				s("Subject: hi\r\n\r\n..dot\r\nbody\r\n.\r\n", "250 2.0.0 Ok: queued as "),
				s("QUIT\r\n", "221 "),
			},
			wantMsgs: 1,
			wantBody: "Subject: hi\r\n\r\n.dot\r\nbody\r\n",
		},
		{
			name: "unknown user",
			steps: []step{ehlo,
				s("MAIL FROM:<a@b.test>\r\n", "250 "),
				s("RCPT TO:<unknown@d.test>\r\n", "550 5.1.1 User unknown"),
				s("DATA\r\n", "502 "),
			},
		},
		{
			name: "untyped policy error is hidden",
			steps: []step{ehlo,
				s("MAIL FROM:<a@b.test>\r\n", "250 "),
				s("RCPT TO:<fail@d.test>\r\n", "451 4.3.0 Temporary server error, try again later"),
			},
		},
		{
			name: "oversize DATA",
			opts: Options{MaxMessageBytes: 1000},
			steps: []step{ehlo,
				s("MAIL FROM:<a@b.test>\r\n", "250 "),
				s("RCPT TO:<c@d.test>\r\n", "250 "),
				s("DATA\r\n", "354 "),
				s(strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz\r\n", 100)+".\r\n", "552 5.3.4"),
				s("NOOP\r\n", "250 "),
			},
		},
		{
			name: "oversize SIZE parameter",
			opts: Options{MaxMessageBytes: 1000},
			steps: []step{ehlo,
				s("MAIL FROM:<a@b.test> SIZE=5000\r\n", "552 5.3.4"),
			},
		},
		{
			name: "oversize BDAT",
			opts: Options{MaxMessageBytes: 1000},
			steps: []step{ehlo,
				s("MAIL FROM:<a@b.test>\r\n", "250 "),
				s("RCPT TO:<c@d.test>\r\n", "250 "),
				s("BDAT 2000 LAST\r\n"+strings.Repeat("01234567\r\n", 200), "552 5.3.4"),
				s("NOOP\r\n", "250 "),
			},
		},
		{
			name: "too many recipients",
			opts: Options{MaxRecipients: 2},
			steps: []step{ehlo,
				s("MAIL FROM:<a@b.test>\r\n", "250 "),
				s("RCPT TO:<c1@d.test>\r\n", "250 "),
				s("RCPT TO:<c2@d.test>\r\n", "250 "),
				s("RCPT TO:<c3@d.test>\r\n", "452 4.5.3"),
			},
		},
		{
			name: "overlong command line",
			steps: []step{ehlo,
				s("MAIL FROM:<"+long+"@b.test>\r\n", "500 ", closed),
			},
		},
		{
			name: "overlong line in DATA",
			steps: []step{ehlo,
				s("MAIL FROM:<a@b.test>\r\n", "250 "),
				s("RCPT TO:<c@d.test>\r\n", "250 "),
				s("DATA\r\n", "354 "),
				s(long+"\r\n.\r\n", "500 5.5.2", "500 ", closed),
			},
		},
		{
			name: "garbage commands",
			steps: []step{
				s("GET / HTTP/1.1\r\n", "501 5.5.2"),
				s("\x00\x01\x02\x03\x04\r\n", "501 5.5.2"),
				s("FOOBAR\r\n", "501 5.5.2"),
				s("XYZW\r\n", "500 5.5.2", "500 5.5.1", closed),
			},
		},
		{
			name: "error cap: directory harvest",
			opts: Options{MaxErrors: 3},
			steps: []step{ehlo,
				s("MAIL FROM:<a@b.test>\r\n", "250 "),
				s("RCPT TO:<unknown1@d.test>\r\n", "550 5.1.1"),
				s("RCPT TO:<unknown2@d.test>\r\n", "550 5.1.1"),
				s("RCPT TO:<unknown3@d.test>\r\n", "550 5.1.1"),
				s("RCPT TO:<c@d.test>\r\n", "421 4.7.0", closed),
			},
		},
		{
			name: "error cap: pipelined harvest ends at the 421",
			opts: Options{MaxErrors: 2},
			steps: []step{ehlo,
				s("MAIL FROM:<a@b.test>\r\nRCPT TO:<unknown1@d.test>\r\nRCPT TO:<unknown2@d.test>\r\nRCPT TO:<unknown3@d.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n",
					"250 ", "550 5.1.1", "550 5.1.1", "421 4.7.0", closed),
			},
		},
		{
			name: "nested MAIL",
			steps: []step{ehlo,
				s("MAIL FROM:<a@b.test>\r\n", "250 "),
				s("MAIL FROM:<x@b.test>\r\n", "503 5.5.1"),
			},
		},
		{
			name: "pipelined transaction",
			steps: []step{ehlo,
				s("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nRCPT TO:<e@d.test>\r\nDATA\r\n", "250 ", "250 ", "250 ", "354 "),
				s("a: b\r\n\r\nx\r\n.\r\nQUIT\r\n", "250 2.0.0", "221 "),
			},
			wantMsgs: 1,
			wantBody: "a: b\r\n\r\nx\r\n",
		},
		{
			name: "BDAT",
			steps: []step{ehlo,
				s("MAIL FROM:<a@b.test> BODY=8BITMIME\r\n", "250 "),
				s("RCPT TO:<c@d.test>\r\n", "250 "),
				s("BDAT 8\r\na: b\r\n\r\n", "250 2.0.0"),
				s("BDAT 0\r\n", "250 2.0.0"),
				s("BDAT 13 LAST\r\n.x\r\n.\r\nQUIT\r\n", "250 2.0.0 Ok: queued as "),
				s("NOOP\r\n", "250 "),
			},
			wantMsgs: 1,
			wantBody: "a: b\r\n\r\n.x\r\n.\r\nQUIT\r\n",
		},
	}
	// SMTP smuggling probes (RFC 5321 §2.3.8): none may end the data early
	// and smuggle a second message in; each message is refused.
	for _, probe := range []string{"\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r.\r\n", "\n.\r"} {
		tests = append(tests, struct {
			name     string
			opts     Options
			steps    []step
			wantMsgs int
			wantBody string
		}{
			name: "smuggling " + strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(probe),
			steps: []step{ehlo,
				s("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n", "250 ", "250 ", "354 "),
				s("Subject: one\r\n\r\nfirst"+probe+"MAIL FROM:<evil@b.test>\r\nRCPT TO:<victim@d.test>\r\nDATA\r\nSubject: two\r\n\r\nsmuggled\r\n.\r\n",
					"550 5.6.0"),
				s("NOOP\r\n", "250 "),
			},
		})
	}
	tests = append(tests, struct {
		name     string
		opts     Options
		steps    []step
		wantMsgs int
		wantBody string
	}{
		name: "smuggling in BDAT",
		steps: []step{ehlo,
			s("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n", "250 ", "250 "),
			s("BDAT 12 LAST\r\nSubject: x\n\n", "550 5.6.0"),
			s("NOOP\r\n", "250 "),
		},
	})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			be := &fakeBackend{}
			_, addr := startServer(t, tt.opts, be)
			c := dialGreeted(t, addr)
			for _, st := range tt.steps {
				c.Write(st.send)
				for _, w := range st.want {
					if w == closed {
						c.ExpectClosed()
						continue
					}
					c.ExpectReply(w)
				}
			}
			msgs := be.messages()
			if len(msgs) != tt.wantMsgs {
				t.Fatalf("stored %d messages, want %d: %+v", len(msgs), tt.wantMsgs, msgs)
			}
			if tt.wantMsgs == 1 && string(msgs[0].body) != tt.wantBody {
				t.Errorf("body %q, want %q", msgs[0].body, tt.wantBody)
			}
		})
	}
}

func TestEHLOExtensions(t *testing.T) {
	t.Parallel()
	srvTLS, _ := certstest.SelfSigned(t, "mx.test")
	for _, withTLS := range []bool{false, true} {
		opts := Options{MaxMessageBytes: 12345, MaxRecipients: 7}
		if withTLS {
			opts.TLSConfig = srvTLS
		}
		_, addr := startServer(t, opts, &fakeBackend{})
		c := dialGreeted(t, addr)
		c.Write("EHLO client.test\r\n")
		lines, err := c.Reply()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, l := range lines[1:] {
			got[l[4:]] = true
		}
		want := []string{"PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE 12345", "ENHANCEDSTATUSCODES", "CHUNKING", "LIMITS RCPTMAX=7"}
		if withTLS {
			want = append(want, "STARTTLS")
		}
		for _, w := range want {
			if !got[w] {
				t.Errorf("tls=%v: EHLO lacks %q: %q", withTLS, w, lines)
			}
		}
		if len(got) != len(want) {
			t.Errorf("tls=%v: EHLO advertises %q, want exactly %q", withTLS, lines[1:], want)
		}
	}
}
