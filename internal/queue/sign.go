package queue

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/posthorn/posthorn/internal/dkim"
	"github.com/posthorn/posthorn/internal/dmarc"
)

// Signer makes the DKIM-Signature fields for a message (*dkim.DirSigner):
// one or more header fields ending in CRLF, or an error wrapping
// dkim.ErrNoKey when domain has no keys. No signer is a nil interface,
// not an interface holding a nil pointer.
type Signer interface {
	Sign(domain string, msg io.Reader) (string, error)
}

// dsnSigner signs notifications for the reporting host's domain, or the
// nearest parent domain with keys (signDomains). Without any key the
// notification goes unsigned, said once in the log.
type dsnSigner struct {
	signer  Signer
	domains []string
	log     *slog.Logger
	warned  atomic.Bool
}

func newDSNSigner(s Signer, hostname string, log *slog.Logger) *dsnSigner {
	if s == nil {
		return nil
	}
	return &dsnSigner{signer: s, domains: signDomains(hostname), log: log}
}

// signDomains lists the domains a notification from MAILER-DAEMON@host
// may be signed for, nearest first: host, then its parents down to its
// organizational domain (RFC 7489 §3.2), whose signature DMARC's relaxed
// alignment accepts for host (§3.1.1). Never a public suffix.
func signDomains(host string) []string {
	host = dmarc.Normalize(host) // A-labels, as the org domain and d= are
	if host == "" || dmarc.IsPublicSuffix(host) {
		return nil
	}
	org := dmarc.OrgDomain(host)
	var out []string
	for d := host; d == org || strings.HasSuffix(d, "."+org); {
		out = append(out, d)
		if d == org {
			break
		}
		d = d[strings.IndexByte(d, '.')+1:]
	}
	return out
}

// sign returns msg with DKIM-Signature fields prepended for the first of
// s.domains that has keys, or msg as it is when none has (or s is nil).
// A signing error other than a missing key is logged and the
// notification goes unsigned: a bounce matters more than its signature.
func (s *dsnSigner) sign(msg []byte) []byte {
	if s == nil {
		return msg
	}
	for _, d := range s.domains {
		sig, err := s.signer.Sign(d, bytes.NewReader(msg))
		if errors.Is(err, dkim.ErrNoKey) {
			continue
		}
		if err != nil {
			s.log.Error("queue: signing a notification failed; it goes unsigned", "domain", d, "err", err)
			return msg
		}
		return append([]byte(sig), msg...)
	}
	if !s.warned.Swap(true) {
		s.log.Warn("queue: no DKIM key for the host name's domain or its parents; notifications go unsigned", "domains", s.domains)
	}
	return msg
}
