package mx

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"mime"
	"net/textproto"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// Inbound events: for each recipient domain with a webhook endpoint
// subscribed to "inbound", one event summarising the message (envelope
// sender, that domain's recipients, From, Subject, Message-ID, size) is
// written in the same commit as the delivery. The subscription check is
// the store's in-memory WebhookSubscribed, and the header is only read
// when someone is subscribed, so ingest costs nothing extra otherwise.

// inboundSummary is the Data of an inbound event.
type inboundSummary struct {
	MailFrom   string   `json:"mail_from"`
	Recipients []string `json:"recipients"`
	From       string   `json:"from,omitempty"`
	Subject    string   `json:"subject,omitempty"`
	MessageID  string   `json:"message_id,omitempty"`
	Size       int      `json:"size"`
}

// inboundEvents returns the inbound summary events of the message full
// for the subscribed recipient domains.
func (s *session) inboundEvents(ctx context.Context, full []byte, now time.Time) []store.Event {
	subscribed := map[string]bool{}
	byDomain := map[string][]string{}
	var order []string
	for _, r := range s.rcpts {
		d := strings.ToLower(domainOf(r))
		ok, checked := subscribed[d]
		if !checked {
			var err error
			ok, err = s.b.opts.Store.WebhookSubscribed(ctx, d, store.EventInbound)
			if err != nil {
				s.b.log.Warn("mx: webhook subscriptions", "conn", s.ci.ID, "id", s.txID, "err", err)
			}
			subscribed[d] = ok
			if ok {
				order = append(order, d)
			}
		}
		if ok {
			byDomain[d] = append(byDomain[d], r)
		}
	}
	if len(order) == 0 {
		return nil
	}
	sum := inboundSummary{MailFrom: s.from, Size: len(full)}
	// A malformed header still yields the fields read before the error.
	h, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader(full))).ReadMIMEHeader()
	sum.From = decodeHeader(h.Get("From"))
	sum.Subject = decodeHeader(h.Get("Subject"))
	sum.MessageID = strings.TrimSpace(h.Get("Message-Id"))
	tracking := store.NewTrackingID()
	evs := make([]store.Event, 0, len(order))
	for _, d := range order {
		sum.Recipients = byDomain[d]
		data, err := json.Marshal(sum)
		if err != nil {
			continue
		}
		e := store.Event{Time: now, Type: store.EventInbound, Domain: d, Message: tracking, Data: data}
		if len(sum.Recipients) == 1 {
			e.Recipient = sum.Recipients[0]
		}
		evs = append(evs, e)
	}
	return evs
}

// decodeHeader decodes RFC 2047 encoded words, keeping the raw value when
// they are broken.
func decodeHeader(v string) string {
	d, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		return strings.TrimSpace(v)
	}
	return strings.TrimSpace(d)
}
