package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"

	"github.com/xdg-go/scram"

	"github.com/posthorn/posthorn/internal/store"
)

// SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677; tls-exporter
// channel binding, RFC 9266) on github.com/xdg-go/scram's server, fed
// with the stored keys.

// scramServer adapts one xdg-go/scram conversation to SASL.
type scramServer struct {
	s    *Service
	c    SASLConn
	plus bool
	// binding is what the client must bind to: the TLS connection's
	// exporter value; nil outside TLS or when the connection cannot export
	// (TLS 1.2 without extended master secret).
	binding *scram.ChannelBinding
	conv    *scram.ServerConversation

	state   int // 0 want client-first, 1 want client-final, 2 want the empty ack, 3 done
	asked   bool
	user    string        // canonical login name from client-first
	acct    store.Account // the account client-first named, if it exists
	known   bool          // the account exists and has SCRAM keys
	lookErr error         // a throttle or store error from the lookup
}

func (s *Service) newSCRAM(c SASLConn, plus bool) (SASL, error) {
	ss := &scramServer{s: s, c: c, plus: plus}
	if c.TLS != nil {
		if cb, err := scram.NewTLSExporterBinding(c.TLS); err == nil {
			ss.binding = &cb
		}
	}
	if plus && ss.binding == nil {
		return nil, ErrUnknownMechanism
	}
	srv, err := scram.SHA256.NewServer(ss.lookup)
	if err != nil {
		return nil, err
	}
	switch {
	case plus:
		ss.conv = srv.NewConversationWithChannelBindingRequired(*ss.binding)
	case ss.binding != nil:
		// Plain SCRAM-SHA-256 while -PLUS is on offer: a client answering
		// "y" (could bind, saw no -PLUS) is refused as a downgrade (RFC
		// 5802 §6).
		ss.conv = srv.NewConversationWithChannelBinding(*ss.binding)
	default:
		ss.conv = srv.NewConversation()
	}
	return ss, nil
}

// lookup is the credential callback of the conversation: it runs inside
// the client-first step.
func (ss *scramServer) lookup(name string) (scram.StoredCredentials, error) {
	ss.user = canonicalUser(name)
	if err := ss.s.throttle.check(ss.c.ctx(), ss.c.RemoteIP, ss.user); err != nil {
		ss.s.opts.Metrics.AuthFailure(ss.c.Protocol, "locked_out")
		ss.lookErr = err
		return scram.StoredCredentials{}, err
	}
	if ss.user != "" {
		acct, cred, err := ss.s.st.Credentials(ss.c.ctx(), ss.user)
		switch {
		case err == nil && cred.SCRAM.Iterations > 0 && len(cred.SCRAM.StoredKey) > 0:
			ss.acct, ss.known = acct, true
			return scram.StoredCredentials{
				KeyFactors: scram.KeyFactors{Salt: string(cred.SCRAM.Salt), Iters: cred.SCRAM.Iterations},
				StoredKey:  cred.SCRAM.StoredKey,
				ServerKey:  cred.SCRAM.ServerKey,
			}, nil
		case err != nil && !errors.Is(err, store.ErrNotFound):
			ss.lookErr = err
			return scram.StoredCredentials{}, err
		}
	}
	// Unknown name (or no SCRAM keys): answer like for a real account, with
	// a salt that stays the same for the name, and let the proof fail.
	m := hmac.New(sha256.New, ss.s.fakeKey)
	m.Write([]byte(ss.user))
	salt := m.Sum(nil)[:saltLen]
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(salt), Iters: SCRAMIterations},
		StoredKey:  m.Sum([]byte("stored")), // never the hash of any proof
		ServerKey:  m.Sum([]byte("server")),
	}, nil
}

func (ss *scramServer) Next(response []byte) ([]byte, bool, error) {
	switch ss.state {
	case 0:
		if response == nil && !ss.asked {
			ss.asked = true
			return []byte{}, false, nil // RFC 4422 §3.3: ask for client-first
		}
		ss.state = 3
		return ss.first(response)
	case 1:
		ss.state = 3
		return ss.final(response)
	case 2:
		ss.state = 3
		if len(response) != 0 {
			return nil, true, ErrMalformed
		}
		return nil, true, nil
	}
	return nil, true, errDone
}

// first handles client-first-message (RFC 5802 §7).
func (ss *scramServer) first(msg []byte) ([]byte, bool, error) {
	flag, cbName, err := parseGS2Flag(string(msg))
	if err != nil {
		return nil, true, err
	}
	switch {
	case ss.plus && (flag != "p" || cbName != string(scram.ChannelBindingTLSExporter)):
		// -PLUS without binding, or to a type we do not offer.
		return nil, true, ErrMalformed
	case !ss.plus && flag == "p":
		// Channel binding needs the -PLUS mechanism (RFC 5802 §6).
		return nil, true, ErrMalformed
	}
	out, err := ss.conv.Step(string(msg))
	if ss.lookErr != nil {
		return nil, true, ss.lookErr
	}
	if err != nil {
		if ss.user == "" && !strings.HasPrefix(out, "e=") {
			return nil, true, ErrMalformed // did not parse
		}
		// Parsed, but refused (a "y" downgrade, authzid, ...): a failure.
		return nil, true, ss.fail("client-first refused: " + out)
	}
	if a := ss.conv.AuthzID(); a != "" && canonicalUser(a) != ss.user {
		return nil, true, ss.fail("authorization identity differs")
	}
	ss.state = 1
	return []byte(out), false, nil
}

// final handles client-final-message: the proof.
func (ss *scramServer) final(msg []byte) ([]byte, bool, error) {
	out, err := ss.conv.Step(string(msg))
	if err != nil || !ss.conv.Valid() || !ss.known {
		reason := "wrong password"
		switch {
		case !ss.known:
			reason = "unknown user"
		case out != "" && out != scram.ErrInvalidProof:
			reason = "client-final refused: " + out
		}
		return nil, true, ss.fail(reason)
	}
	ss.s.succeeded(ss.c.ctx(), ss.c.Protocol, ss.c.RemoteIP, ss.user, "scram")
	ss.state = 2
	return []byte(out), false, nil
}

func (ss *scramServer) fail(reason string) error {
	return ss.s.failed(ss.c.ctx(), ss.c.Protocol, ss.c.RemoteIP, ss.user, reason)
}

func (ss *scramServer) Account() store.Account {
	if ss.state == 3 && ss.known && ss.conv.Valid() {
		return ss.acct
	}
	return store.Account{}
}

// parseGS2Flag reads the channel-binding flag of a GS2 header (RFC 5802
// §7): "n", "y", or "p" with the binding name from "p=name".
func parseGS2Flag(msg string) (flag, cbName string, err error) {
	i := strings.IndexByte(msg, ',')
	if i < 0 {
		return "", "", ErrMalformed
	}
	switch f := msg[:i]; {
	case f == "n", f == "y":
		return f, "", nil
	case strings.HasPrefix(f, "p=") && len(f) > 2:
		name := f[2:]
		for _, r := range name {
			// cb-name = 1*(ALPHA / DIGIT / "." / "-")
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
				return "", "", ErrMalformed
			}
		}
		return "p", name, nil
	}
	return "", "", ErrMalformed
}
