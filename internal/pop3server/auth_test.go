package pop3server

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"net"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/connserver"
	"github.com/posthorn/posthorn/internal/testutil/linetest"
)

func plainResp(user, pw string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pw))
}

// Before TLS, credentials are refused with [AUTH] and CAPA offers only
// STLS; after STLS the same commands work (RFC 2595).
func TestPlaintextRefusedBeforeTLS(t *testing.T) {
	e := newEnv(t)
	srvTLS, cliTLS, _ := testTLS(t)
	_, addr := e.start(t, Options{TLSConfig: srvTLS})
	c := dialGreeted(t, addr)
	runScript(t, c, `
		C: CAPA
		S: +OK Capability list follows
		S: TOP
		S: UIDL
		S: STLS
		S: RESP-CODES
		S: AUTH-RESP-CODE
		S: PIPELINING
		S: EXPIRE NEVER
		S: IMPLEMENTATION posthorn
		S: .
		C: USER alice@example.test
		S: -ERR [AUTH] Plaintext authentication disallowed on non-secure connections; use STLS
		C: PASS alice pw with spaces
		S: -ERR [AUTH] Plaintext authentication disallowed on non-secure connections; use STLS
		C: AUTH PLAIN `+plainResp(alice, alicePW)+`
		S: -ERR [AUTH] Plaintext authentication disallowed on non-secure connections; use STLS
		C: AUTH
		S: +OK Methods supported
		S: .
		C: STLS
		S: +OK Begin TLS negotiation
	`)
	c.StartTLS(cliTLS)
	runScript(t, c, `
		C: CAPA
		S: +OK Capability list follows
		S: TOP
		S: UIDL
		S: USER
		S: SASL PLAIN
		S: RESP-CODES
		S: AUTH-RESP-CODE
		S: PIPELINING
		S: EXPIRE NEVER
		S: IMPLEMENTATION posthorn
		S: .
		C: STLS
		S: -ERR Already using TLS
		C: USER alice@example.test
		S: +OK Send PASS
		C: PASS alice pw with spaces
		S: +OK Logged in, 0 messages (0 octets)
		C: QUIT
		S: +OK Bye, 0 messages deleted
	`)
}

// AllowPlaintextAuth applies to loopback clients only.
func TestPlaintextAllowedOnlyOnLoopback(t *testing.T) {
	e := newEnv(t)
	srv := New(Options{AllowPlaintextAuth: true}, e.st, e.auth)
	for _, tc := range []struct {
		ip   string
		want bool
	}{{"127.0.0.1", true}, {"::1", true}, {"192.0.2.1", false}, {"::ffff:127.0.0.1", true}} {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		sess := newSession(srv, a, connserver.RemoteIP(&net.TCPAddr{IP: net.ParseIP(tc.ip)}))
		if got := sess.plaintextOK(); got != tc.want {
			t.Errorf("plaintextOK from %s = %v, want %v", tc.ip, got, tc.want)
		}
	}
}

// Commands pipelined behind STLS are never executed (RFC 2595 §4).
func TestSTLSPipelinedCommandsDiscarded(t *testing.T) {
	e := newEnv(t)
	srvTLS, cliTLS, _ := testTLS(t)
	_, addr := e.start(t, Options{TLSConfig: srvTLS})
	c := dialGreeted(t, addr)
	c.Send("STLS\r\nUSER " + alice)
	c.Expect("+OK Begin TLS negotiation")
	tc := tls.Client(c.NC, cliTLS)
	if err := tc.Handshake(); err != nil {
		// The pipelined bytes reached the handshake: refused, not run.
		t.Logf("handshake failed, as it may: %v", err)
		return
	}
	c.NC, c.R = tc, bufio.NewReader(tc)
	c.cmd("PASS "+alicePW, "-ERR Send USER first")
}

func TestImplicitTLS(t *testing.T) {
	e := newEnv(t)
	e.fill(t)
	srvTLS, cliTLS, _ := testTLS(t)
	_, addr := e.start(t, Options{TLSConfig: srvTLS, ImplicitTLS: true})
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: testTimeout}, "tcp", addr, cliTLS)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{linetest.Wrap(t, nc, testTimeout)}
	c.Expect("+OK pop.test POP3 server ready")
	c.cmd("CAPA", "+OK")
	if capa := strings.Join(c.multi(), "\n"); strings.Contains(capa, "STLS") || !strings.Contains(capa, "USER") {
		t.Errorf("CAPA with implicit TLS:\n%s", capa)
	}
	c.login(alice, alicePW)
	c.cmd("RETR 1", "+OK")
	if got := c.message(); got != msg1 {
		t.Errorf("RETR 1 = %q", got)
	}
	c.cmd("QUIT", "+OK")
}

func TestImplicitTLSWithoutConfig(t *testing.T) {
	e := newEnv(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := New(Options{ImplicitTLS: true}, e.st, e.auth).Serve(l); err == nil {
		t.Fatal("Serve with ImplicitTLS and no TLSConfig succeeded")
	}
}

func TestLoginFailures(t *testing.T) {
	e := newEnv(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true})
	c := dialGreeted(t, addr)
	runScript(t, c, `
		C: USER alice@example.test
		S: +OK Send PASS
		C: PASS wrong
		S: -ERR [AUTH] Authentication failed
		C: PASS alice pw with spaces
		S: -ERR Send USER first
		C: USER nobody@example.test
		S: +OK Send PASS
		C: PASS whatever
		S: -ERR [AUTH] Authentication failed
		C: AUTH PLAIN `+plainResp(alice, "wrong")+`
		S: -ERR [AUTH] Authentication failed
	`)
	c.ExpectClosed() // the third failure ends the session

	c = dialGreeted(t, addr)
	runScript(t, c, `
		C: USER throttled@example.test
		S: +OK Send PASS
		C: PASS x
		S: -ERR [SYS/TEMP] Too many failed logins, try again later
		C: USER broken@example.test
		S: +OK Send PASS
		C: PASS x
		S: -ERR [SYS/TEMP] Authentication temporarily unavailable
	`)
}

func TestAuthPlain(t *testing.T) {
	e := newEnv(t)
	_, addr := e.start(t, Options{AllowPlaintextAuth: true})
	c := dialGreeted(t, addr)
	runScript(t, c, `
		C: AUTH
		S: +OK Methods supported
		S: PLAIN
		S: .
		C: AUTH CRAM-MD5
		S: -ERR Unsupported authentication mechanism
		C: AUTH PLAIN not*base64
		S: -ERR Invalid base64 in initial response
		C: AUTH PLAIN a b
		S: -ERR Usage: AUTH mechanism [initial-response]
		C: AUTH PLAIN
		S: + 
		C: *
		S: -ERR Authentication cancelled
		C: AUTH PLAIN
		S: + 
		C: %%%
		S: -ERR Invalid base64, authentication cancelled
		C: AUTH PLAIN =
		S: -ERR [AUTH] Authentication failed
		C: auth plain
		S: + 
		C: `+plainResp(alice, alicePW)+`
		S: +OK Logged in, 0 messages (0 octets)
		C: QUIT
		S: +OK Bye, 0 messages deleted
	`)
	c = dialGreeted(t, addr)
	runScript(t, c, `
		C: AUTH PLAIN `+plainResp(bob, bobPW)+`
		S: +OK Logged in, 0 messages (0 octets)
	`)
}

// An AUTH whose mechanism ends with additional data sends it as a last
// challenge and waits for an empty response (RFC 5034 §4).
func TestAuthAdditionalDataWithSuccess(t *testing.T) {
	e := newEnv(t)
	a := &finalDataAuth{storeAuth: e.auth}
	_, addr := e.startWith(t, Options{AllowPlaintextAuth: true}, a)
	c := dialGreeted(t, addr)
	runScript(t, c, `
		C: AUTH PLAIN `+plainResp(alice, alicePW)+`
		S: + dj1maW5hbA==
		C: 
		S: +OK Logged in, 0 messages (0 octets)
	`)
}

// finalDataAuth wraps every SASL exchange in finalData: a mechanism that
// ends with additional data, as SCRAM's server-final message does.
type finalDataAuth struct{ *storeAuth }

func (a *finalDataAuth) NewSASL(mech string, c auth.SASLConn) (auth.SASL, error) {
	s, err := a.storeAuth.NewSASL(mech, c)
	if err != nil {
		return nil, err
	}
	return finalData{s}, nil
}

type finalData struct{ auth.SASL }

func (f finalData) Next(resp []byte) ([]byte, bool, error) {
	chal, done, err := f.SASL.Next(resp)
	if done {
		return []byte("v=final"), true, err
	}
	return chal, done, err
}
