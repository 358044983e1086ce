package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/sqlite"
)

func TestWebhookCommands(t *testing.T) {
	dir := t.TempDir()
	dd := "-data-dir=" + dir
	runSteps(t, []cliStep{
		{[]string{"domain", "add", dd, "example.org"}, 0, "added domain"},
		{[]string{"webhook", "add", dd, "Example.org", "http://127.0.0.1:8080/hook"}, 0, "added webhook endpoint 1: example.org -> http://127.0.0.1:8080/hook (all events)\nsecret: whsec_"},
		{[]string{"webhook", "add", dd, "-events", "bounced,delivered", "example.org", "https://app.example/events"}, 0, "added webhook endpoint 2: example.org -> https://app.example/events (bounced,delivered)"},
		{[]string{"webhook", "add", dd, "-events", "opened", "example.org", "https://app.example/"}, 1, `unknown event type "opened"`},
		{[]string{"webhook", "add", dd, "unknown.example", "https://app.example/"}, 1, "not served here"},
		{[]string{"webhook", "add", dd, "example.org", "ftp://x/"}, 1, "not an absolute http or https URL"},
		{[]string{"webhook", "add", dd, "example.org"}, 2, "name a domain and a URL"},
		{[]string{"route", "add", dd, "support@example.org", "https://app.example/mail"}, 0, "added route 3"},
		{[]string{"webhook", "disable", dd, "2"}, 0, "webhook endpoint 2 disabled"},
		{[]string{"webhook", "list", dd}, 0, "1 example.org -> http://127.0.0.1:8080/hook (all events)\n2 example.org -> https://app.example/events (bounced,delivered) (disabled)\n"},
		{[]string{"webhook", "enable", dd, "2"}, 0, "webhook endpoint 2 enabled"},
		{[]string{"webhook", "rm", dd, "3"}, 1, "no webhook endpoint 3"}, // a route
		{[]string{"webhook", "rm", dd, "2"}, 0, "removed webhook endpoint 2: example.org -> https://app.example/events"},
		{[]string{"webhook", "rm", dd, "2"}, 1, "no webhook endpoint 2"},
		{[]string{"webhook", "rm", dd, "x"}, 2, `"x" is not an endpoint id`},
		{[]string{"webhook", "list", dd, "example.org"}, 0, "1 example.org -> http://127.0.0.1:8080/hook (all events)\n"},
		{[]string{"webhook", "deliveries", dd, "1"}, 0, ""},
	})
	// The secret printed is the one the store signs with.
	code, out, _ := runCLI(t, "", "webhook", "add", dd, "example.org", "http://127.0.0.1:9/x")
	_, secret, _ := strings.Cut(out, "secret: ")
	secret = strings.TrimSpace(secret)
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "mail.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eps, _ := st.WebhookEndpoints(context.Background(), "example.org")
	if code != 0 || len(eps) != 3 || eps[2].Secret != secret || secret == "" {
		t.Errorf("printed secret %q, stored endpoints %+v", secret, eps)
	}
	// Deliveries show up with their state.
	if _, err := st.RecordEvents(context.Background(), []store.Event{{Type: store.EventBounced, Domain: "example.org", Recipient: "x@remote.test"}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	code, out, errOut := runCLI(t, "", "webhook", "deliveries", dd, "1")
	if code != 0 || !strings.Contains(out, " bounced pending attempts=0") {
		t.Errorf("webhook deliveries: code %d, out %q, err %q", code, out, errOut)
	}
}

func TestSuppressionCommands(t *testing.T) {
	dd := "-data-dir=" + t.TempDir()
	runSteps(t, []cliStep{
		{[]string{"domain", "add", dd, "example.org"}, 0, "added domain"},
		{[]string{"suppression", "add", dd, "example.org", "Bob@Remote.test"}, 0, "suppressed bob@remote.test for example.org"},
		{[]string{"suppression", "add", dd, "-reason", "asked to stop", "example.org", "carol@remote.test"}, 0, "suppressed carol@remote.test"},
		{[]string{"suppression", "add", dd, "example.org", "bob@remote.test"}, 1, "already on example.org's suppression list"},
		{[]string{"suppression", "add", dd, "unknown.example", "bob@remote.test"}, 1, "not served here"},
		{[]string{"suppression", "add", dd, "example.org", "not an address"}, 1, "not a valid address"},
		{[]string{"suppression", "add", dd, "example.org"}, 2, "name a domain and an address"},
		{[]string{"suppression", "list", dd, "example.org"}, 0, "bob@remote.test "},
		{[]string{"suppression", "list", dd, "example.org"}, 0, " asked to stop\n"},
		{[]string{"suppression", "rm", dd, "example.org", "BOB@remote.test"}, 0, "removed bob@remote.test from example.org's suppression list"},
		{[]string{"suppression", "rm", dd, "example.org", "bob@remote.test"}, 1, "not on example.org's suppression list"},
		{[]string{"suppression", "rm", dd, "example.org", "carol@remote.test"}, 0, "removed"},
		{[]string{"suppression", "list", dd, "example.org"}, 0, ""},
	})
}
