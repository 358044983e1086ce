package mx

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
)

// A domain with an endpoint subscribed to inbound gets one summary event
// per message, written with the delivery; a domain without gets none.
func TestInboundEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	ep, err := e.st.AddWebhookEndpoint(ctx, store.WebhookEndpoint{Domain: "example.test", URL: "http://127.0.0.1:9/in",
		Types: []store.EventType{store.EventInbound}, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	c := dialClient(t, e)
	send(t, c, "zoe@remote.test", []string{"alice@example.test", "Bob@example.test", "x@other.test"}, routedMsg, nil)

	ds, err := e.st.WebhookDeliveries(ctx, ep.ID, 0)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries = %+v, %v; want one inbound event", ds, err)
	}
	ev := ds[0].Event
	if ev.Type != store.EventInbound || ev.Domain != "example.test" || ev.Recipient != "" {
		t.Errorf("event %+v", ev)
	}
	var sum inboundSummary
	if err := json.Unmarshal(ev.Data, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.MailFrom != "zoe@remote.test" || !slices.Equal(sum.Recipients, []string{"alice@example.test", "Bob@example.test"}) ||
		sum.From != "Zoë <zoe@remote.test>" || sum.Subject != "Grüße" || sum.MessageID != "<r1@remote.test>" || sum.Size <= len(routedMsg) {
		t.Errorf("summary = %+v", sum)
	}
	if evs, _ := e.st.QueryEvents(ctx, store.EventFilter{Domain: "other.test"}); len(evs) != 0 {
		t.Errorf("other.test has no subscriber but got events %+v", evs)
	}
	if len(e.inbox("alice@example.test")) != 1 {
		t.Error("alice got nothing")
	}
}
