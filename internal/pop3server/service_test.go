package pop3server

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/auth"
)

// The shared authentication service is what the daemon passes to New.
var _ Authenticator = (*auth.Service)(nil)

// scramClient is the client side of RFC 5802 SCRAM-SHA-256 (RFC 7677),
// enough to log in against the auth service through POP3 AUTH.
type scramClient struct {
	user, password  string
	nonce           string
	clientFirstBare string
	serverSignature []byte
}

func newSCRAMClient(user, password string) *scramClient {
	b := make([]byte, 18)
	rand.Read(b)
	return &scramClient{user: user, password: password, nonce: base64.RawStdEncoding.EncodeToString(b)}
}

func (c *scramClient) first() string {
	name := strings.NewReplacer("=", "=3D", ",", "=2C").Replace(c.user)
	c.clientFirstBare = "n=" + name + ",r=" + c.nonce
	return "n,," + c.clientFirstBare
}

func (c *scramClient) final(t *testing.T, serverFirst string) string {
	t.Helper()
	var nonce, salt string
	iter := 0
	for _, f := range strings.Split(serverFirst, ",") {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "r":
			nonce = v
		case "s":
			salt = v
		case "i":
			for _, d := range v {
				iter = iter*10 + int(d-'0')
			}
		}
	}
	if !strings.HasPrefix(nonce, c.nonce) || salt == "" || iter == 0 {
		t.Fatalf("bad server-first %q", serverFirst)
	}
	saltB, err := base64.StdEncoding.DecodeString(salt)
	if err != nil {
		t.Fatal(err)
	}
	salted, err := pbkdf2.Key(sha256.New, c.password, saltB, iter, sha256.Size)
	if err != nil {
		t.Fatal(err)
	}
	mac := func(key []byte, s string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(s))
		return m.Sum(nil)
	}
	clientKey := mac(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	withoutProof := "c=biws,r=" + nonce
	authMsg := c.clientFirstBare + "," + serverFirst + "," + withoutProof
	sig := mac(stored[:], authMsg)
	proof := make([]byte, len(clientKey))
	for i := range proof {
		proof[i] = clientKey[i] ^ sig[i]
	}
	c.serverSignature = mac(mac(salted, "Server Key"), authMsg)
	return withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func unb64(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("challenge %q: %v", s, err)
	}
	return string(b)
}

// TestServiceSCRAMAndPlain logs in through the real auth service: AUTH
// SCRAM-SHA-256 (its server-final message as a last challenge, RFC 5034
// §4), AUTH PLAIN and USER/PASS, and a wrong password.
func TestServiceSCRAMAndPlain(t *testing.T) {
	e := newEnv(t)
	svc := auth.NewService(e.st, auth.ServiceOptions{AllowPlaintext: true})
	srvTLS, cliTLS, _ := testTLS(t)
	_, addr := e.startWith(t, Options{TLSConfig: srvTLS}, svc)

	c := dialGreeted(t, addr)
	c.cmd("STLS", "+OK")
	c.StartTLS(cliTLS)
	c.cmd("CAPA", "+OK")
	capa := strings.Join(c.multi(), "\n")
	if !strings.Contains(capa, "SCRAM-SHA-256") {
		t.Fatalf("CAPA lacks SCRAM-SHA-256:\n%s", capa)
	}
	sc := newSCRAMClient(alice, alicePW)
	serverFirst := unb64(t, strings.TrimPrefix(c.cmd("AUTH SCRAM-SHA-256 "+b64(sc.first()), "+ "), "+ "))
	serverFinal := unb64(t, strings.TrimPrefix(c.cmd(b64(sc.final(t, serverFirst)), "+ "), "+ "))
	if want := "v=" + base64.StdEncoding.EncodeToString(sc.serverSignature); serverFinal != want {
		t.Fatalf("server-final %q, want %q", serverFinal, want)
	}
	c.cmd("", "+OK Logged in")
	c.cmd("QUIT", "+OK")

	c = dialGreeted(t, addr)
	c.cmd("STLS", "+OK")
	c.StartTLS(cliTLS)
	c.cmd("AUTH PLAIN "+plainResp(bob, bobPW), "+OK Logged in")
	c.cmd("QUIT", "+OK")

	c = dialGreeted(t, addr)
	c.cmd("STLS", "+OK")
	c.StartTLS(cliTLS)
	c.cmd("USER "+alice, "+OK")
	c.cmd("PASS "+alicePW, "+OK Logged in")
}

// The service's throttle answers [AUTH] for wrong passwords and, once the
// account is locked out, [SYS/TEMP] even for the right one.
func TestServiceThrottle(t *testing.T) {
	e := newEnv(t)
	svc := auth.NewService(e.st, auth.ServiceOptions{
		AllowPlaintext: true,
		Sleep:          func(ctx context.Context, d time.Duration) error { return nil },
		Throttle:       auth.ThrottleOptions{MaxFailuresPerAccount: 2},
	})
	_, addr := e.startWith(t, Options{AllowPlaintextAuth: true}, svc)
	c := dialGreeted(t, addr)
	runScript(t, c, `
		C: USER alice@example.test
		S: +OK Send PASS
		C: PASS wrong
		S: -ERR [AUTH] Authentication failed
		C: AUTH PLAIN `+plainResp(alice, "wrong again")+`
		S: -ERR [AUTH] Authentication failed
		C: USER alice@example.test
		S: +OK Send PASS
		C: PASS alice pw with spaces
		S: -ERR [SYS/TEMP] Too many failed logins, try again later
	`)
	c.ExpectClosed()
	c = dialGreeted(t, addr)
	c.cmd("USER "+bob, "+OK")
	c.cmd("PASS "+bobPW, "+OK Logged in")
}
