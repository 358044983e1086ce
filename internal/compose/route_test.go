package compose

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/sqlite"
)

func TestParsePattern(t *testing.T) {
	for in, want := range map[string]string{
		"Support@Example.ORG": "support@example.org",
		"reply+*@example.org": "reply+*@example.org",
		"*@Example.org":       "*@example.org",
		"Tickets-*@bücher.de": "tickets-*@bücher.de",
		"*@xn--bcher-kva.de":  "*@bücher.de",
	} {
		p, err := ParsePattern(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if p.String() != want {
			t.Errorf("%q → %q, want %q", in, p.String(), want)
		}
	}
	for _, bad := range []string{"", "example.org", "a*b@example.org", "*@", "@example.org", "**@example.org", "a@b@", "x@-bad-.org", "*@*.example.org", "\"a b\"@example.org"} {
		if p, err := ParsePattern(bad); err == nil {
			t.Errorf("%q accepted as %v", bad, p)
		}
	}
}

func TestRouterMostSpecificWins(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, d := range []string{"example.org", "other.org"} {
		if err := st.AddDomain(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	add := func(pattern string, enabled bool) int64 {
		ep, err := st.AddWebhookEndpoint(ctx, store.WebhookEndpoint{Domain: "example.org", URL: "http://127.0.0.1:1/" + pattern, Pattern: pattern, Enabled: enabled})
		if err != nil {
			t.Fatal(err)
		}
		return ep.ID
	}
	all := add("*@example.org", true)
	reply := add("reply+*@example.org", true)
	replyLong := add("reply+urgent*@example.org", true)
	exact := add("reply+x@example.org", true)
	add("off@example.org", false)
	if _, err := st.AddWebhookEndpoint(ctx, store.WebhookEndpoint{Domain: "example.org", URL: "http://127.0.0.1:1/events", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	r := NewRouter(st)
	for addr, want := range map[string]int64{
		"someone@example.org":        all,
		"reply+123@example.org":      reply,
		"reply+urgent-9@example.org": replyLong,
		"reply+x@example.org":        exact,
		"off@example.org":            all, // the disabled exact route does not match
		"reply+x@other.org":          0,
		"nobody":                     0,
	} {
		ep, ok, err := r.Match(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		if (want == 0) != !ok || ok && ep.ID != want {
			t.Errorf("%s → %d (%v), want %d", addr, ep.ID, ok, want)
		}
	}

	// A route added later is seen after the refresh interval, or at once
	// after Invalidate.
	now := time.Now()
	r.now = func() time.Time { return now }
	r.Invalidate()
	r.Match(ctx, "x@other.org")
	if _, err := st.AddWebhookEndpoint(ctx, store.WebhookEndpoint{Domain: "other.org", URL: "http://127.0.0.1:1/o", Pattern: "*@other.org", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := r.Match(ctx, "x@other.org"); ok {
		t.Error("new route seen before the refresh interval")
	}
	now = now.Add(DefaultRefresh)
	if _, ok, _ := r.Match(ctx, "x@other.org"); !ok {
		t.Error("new route not seen after the refresh interval")
	}
}
