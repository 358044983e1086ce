package arc_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/arc"
	"github.com/posthorn/posthorn/internal/dns"
)

// noDNS answers every lookup with NXDOMAIN.
type noDNS struct{}

func nx(name, typ string) error { return &dns.Error{Name: name, Type: typ, Kind: dns.ErrNXDomain} }

func (noDNS) LookupTXT(_ context.Context, n string) ([]string, dns.Result, error) {
	return nil, dns.Result{}, nx(n, "TXT")
}
func (noDNS) LookupMX(_ context.Context, n string) ([]dns.MX, dns.Result, error) {
	return nil, dns.Result{}, nx(n, "MX")
}
func (noDNS) LookupIP(_ context.Context, _, n string) ([]netip.Addr, dns.Result, error) {
	return nil, dns.Result{}, nx(n, "A")
}
func (noDNS) LookupAddr(_ context.Context, ip netip.Addr) ([]string, dns.Result, error) {
	return nil, dns.Result{}, nx(ip.String(), "PTR")
}
func (noDNS) LookupTLSA(_ context.Context, _ int, _, n string) ([]dns.TLSA, dns.Result, error) {
	return nil, dns.Result{}, nx(n, "TLSA")
}
func (noDNS) LookupCNAME(_ context.Context, n string) (string, dns.Result, error) {
	return "", dns.Result{}, nx(n, "CNAME")
}

// FuzzVerify feeds arbitrary messages to the chain parser: no panic, a
// known status, none exactly when the header has no ARC field, and never pass
// without keys.
func FuzzVerify(f *testing.F) {
	f.Add([]byte("ARC-Seal: i=1; cv=none; a=rsa-sha256; d=x.test; s=s; b=AAAA\r\n" +
		"ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=x.test; s=s; h=from; bh=AAAA; b=AAAA\r\n" +
		"ARC-Authentication-Results: i=1; x.test; spf=pass\r\nFrom: a@x.test\r\n\r\nbody\r\n"))
	f.Add([]byte("From: a@b\r\n\r\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		res := arc.Verify(context.Background(), noDNS{}, msg)
		switch res.Status {
		case arc.None, arc.Fail, arc.TempError:
		default:
			t.Fatalf("status %q without any key", res.Status)
		}
		if res.Status == arc.None && strings.Contains("\n"+strings.ToLower(headerOf(msg)), "\narc-seal:") {
			t.Fatalf("none for a message with an ARC-Seal in its header")
		}
	})
}

// headerOf is the header section as RFC 5322 delimits it: everything
// before the first empty line (a CRLF at the start of a line). An
// ARC-Seal after it is body text and rightly ignored.
func headerOf(msg []byte) string {
	s := string(msg)
	if strings.HasPrefix(s, "\r\n") {
		return ""
	}
	if i := strings.Index(s, "\n\r\n"); i >= 0 {
		return s[:i+1]
	}
	return s
}
