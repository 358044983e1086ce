package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/smtp"
	"github.com/posthorn/posthorn/internal/store"
)

// GET /api/v1/events: the key's domain's events, oldest first, filtered
// by type (repeated or comma-separated), recipient, message, since and
// until (RFC 3339, since <= time < until); limit (1-1000, default 100)
// and cursor (next_cursor of the previous page) page through them. A key
// limited to one address sees no more than its own: it must filter by
// message (a tracking id) or by its address as recipient, else 403; and
// of those it gets only the events of messages sent as its address
// (store.EventFilter.Address) and the inbound events to it.

type eventList struct {
	Events []store.Event `json:"events"`
	// NextCursor continues the listing; absent on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	f := store.EventFilter{Domain: c.key.Domain, Message: q.Get("message"), Address: c.key.Address}
	for _, v := range q["type"] {
		for t := range strings.SplitSeq(v, ",") {
			et := store.EventType(strings.TrimSpace(t))
			if !et.Valid() {
				return errInvalid("type", "unknown event type "+strconv.Quote(string(et)))
			}
			f.Types = append(f.Types, et)
		}
	}
	if rc := q.Get("recipient"); rc != "" {
		a, err := smtp.ParseAddress(rc)
		if err != nil {
			return errInvalid("recipient", "not an email address")
		}
		f.Recipient = a.String()
	}
	if c.key.Address != "" && f.Message == "" && !strings.EqualFold(f.Recipient, c.key.Address) {
		return errForbidden("message", fmt.Sprintf("this key is limited to %s: give message (an id it sent) or recipient=%s", c.key.Address, c.key.Address))
	}
	var err error
	if f.Since, err = timeParam(q.Get("since"), "since"); err != nil {
		return err
	}
	if f.Until, err = timeParam(q.Get("until"), "until"); err != nil {
		return err
	}
	limit, err := limitParam(q.Get("limit"))
	if err != nil {
		return err
	}
	f.Limit = limit
	if cur := q.Get("cursor"); cur != "" {
		if f.After, err = strconv.ParseInt(cur, 10, 64); err != nil || f.After < 0 {
			return errInvalid("cursor", "not a cursor from next_cursor")
		}
	}
	evs, err := s.opts.Store.QueryEvents(r.Context(), f)
	if err != nil {
		return err
	}
	out := eventList{Events: evs}
	if out.Events == nil {
		out.Events = []store.Event{}
	}
	if len(evs) == limit {
		out.NextCursor = strconv.FormatInt(evs[len(evs)-1].Seq, 10)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// timeParam parses an RFC 3339 query parameter; "" is the zero time.
func timeParam(v, field string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, errInvalid(field, "not an RFC 3339 time such as 2026-01-02T15:04:05Z")
	}
	return t, nil
}

// limitParam parses limit: 1 to 1000, 100 when absent.
func limitParam(v string) (int, error) {
	if v == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, errInvalid("limit", "a number from 1 to 1000")
	}
	return n, nil
}
