package dns_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"

	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dns/dnstest"
)

// NetResolver answers like the standard library's resolver asking the same
// server.
func TestNetResolver(t *testing.T) {
	srv := dnstest.Start(t, zones()...)
	ours := dns.NetResolver{R: newClient(t, srv, nil)}
	std := srv.Resolver()
	ctx := context.Background()

	for _, name := range []string{"long.example.org", "two.example.org", "nope.example.org", "mx2.example.org", "broken.example.org"} {
		a, errA := ours.LookupTXT(ctx, name)
		b, errB := std.LookupTXT(ctx, name)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) || !sameDNSError(errA, errB) {
			t.Errorf("LookupTXT(%s): ours %q %v, net %q %v", name, a, errA, b, errB)
		}
	}
	mxs, err := ours.LookupMX(ctx, "example.org")
	if err != nil || len(mxs) != 4 || mxs[3].Host != "backup.example.net." {
		t.Errorf("LookupMX = %v %v", mxs, err)
	}
	if mxs, err := ours.LookupMX(ctx, "nomail.example.org"); err != nil || len(mxs) != 1 || mxs[0].Host != "." {
		t.Errorf("LookupMX null = %v %v", mxs, err)
	}
	ips, err := ours.LookupIPAddr(ctx, "alias2.example.org")
	if err != nil || len(ips) != 2 || !ips[1].IP.Equal(net.ParseIP("192.0.2.1")) {
		t.Errorf("LookupIPAddr = %v %v", ips, err)
	}
	names, err := ours.LookupAddr(ctx, "192.0.2.1")
	slices.Sort(names)
	if err != nil || !slices.Equal(names, []string{"mx1.example.org.", "other.example.org."}) {
		t.Errorf("LookupAddr = %v %v", names, err)
	}
	if _, err := ours.LookupAddr(ctx, "not an ip"); err == nil {
		t.Error("LookupAddr of garbage succeeded")
	}
	if name, err := ours.LookupCNAME(ctx, "alias2.example.org"); err != nil || name != "mx1.example.org." {
		t.Errorf("LookupCNAME = %q %v", name, err)
	}
}

func sameDNSError(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var da, db *net.DNSError
	return errors.As(a, &da) && errors.As(b, &db) && da.IsNotFound == db.IsNotFound && da.IsTemporary == db.IsTemporary
}
