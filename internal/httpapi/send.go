package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/posthorn/posthorn/internal/compose"
	"github.com/posthorn/posthorn/internal/received"
	"github.com/posthorn/posthorn/internal/smtp"
	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/submission"
)

// POST /api/v1/messages: build (JSON) or take (message/rfc822) a message,
// check it against the key's scope and the suppression list, and hand it
// to submission's Send, which traces, signs, queues and delivers it
// exactly as for SMTP submission.

// Sender is what sends: *submission.Backend.
type Sender interface {
	Send(ctx context.Context, m *submission.Outgoing, now time.Time) error
}

// sendResponse is the answer to a send: 202 when at least one recipient
// was queued or delivered, 200 when every recipient was suppressed
// (nothing sent).
type sendResponse struct {
	ID         string            `json:"id"`
	Recipients []recipientResult `json:"recipients"`
}

type recipientResult struct {
	Email  string `json:"email"`
	Status string `json:"status"` // queued, delivered (stored locally), suppressed
	Reason string `json:"reason,omitempty"`
}

// outgoing is a send request read and checked, before the store.
type outgoing struct {
	from   smtp.Address   // envelope sender
	rcpts  []smtp.Address // envelope recipients, no duplicates
	fields []string       // each recipient's request field, for errors
	body   []byte         // RFC 5322, CRLF
	// header is submission.ReadHeader's result, when the message was
	// built here (From: is from, Date and Message-ID are set); nil: read
	// it from body.
	header    *submission.Header
	eventData []byte // {"tags": ..., "metadata": ...} or nil
	// withTrace is submission.Outgoing.WithTrace for a body built here
	// with room in front; nil: Send copies.
	withTrace func(trace []byte) []byte
}

// traceRoom is the space a built message keeps in front of it for the
// trace fields Send adds (Received, DKIM-Signature: ~250 and ~500-700
// octets), so that they go in without copying the message.
const traceRoom = 1536

// traceInFront returns a WithTrace for full, a message at full[traceRoom:]
// (see smtpserver.Message.WithTrace: the result is valid until the next
// call).
func traceInFront(full []byte) func(trace []byte) []byte {
	return func(trace []byte) []byte {
		if len(trace) > traceRoom {
			return append(append(make([]byte, 0, len(trace)+len(full)-traceRoom), trace...), full[traceRoom:]...)
		}
		start := traceRoom - len(trace)
		copy(full[start:], trace)
		return full[start:]
	}
}

const maxIdempotencyKey = 255

func (s *Server) postMessage(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	mt := mediaType(r)
	if mt != "application/json" && mt != "message/rfc822" {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedType,
			Message: fmt.Sprintf("Content-Type %q: send application/json or message/rfc822", mt)}
	}
	raw, err := readBody(r)
	if err != nil {
		return err
	}
	// Idempotency compares the request as decoded, so that a retry
	// whose JSON differs only in key order or spacing is the same
	// request (canonicalSend); a raw message compares byte for byte.
	var m compose.Message
	canon := raw
	if mt == "application/json" {
		if err := decodeSend(raw, &m); err != nil {
			return err
		}
		if r.Header.Get("Idempotency-Key") != "" {
			canon = canonicalSend(&m)
		}
	}
	idem, err := s.idempotency(ctx, r, c.key, canon, raw)
	if err != nil || idem.replay != nil {
		if idem.replay != nil {
			replay(w, idem.replay)
		}
		return err
	}
	now := s.now()
	var out outgoing
	if mt == "application/json" {
		out, err = s.buildJSONSend(&m, now)
	} else {
		out, err = s.readRawSend(r, raw)
	}
	if err != nil {
		return err
	}
	if int64(len(out.body)) > s.opts.MaxMessageBytes {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
			Message: fmt.Sprintf("message of %d bytes over the limit of %d", len(out.body), s.opts.MaxMessageBytes)}
	}
	status, resp, err := s.send(ctx, r, c.key, out, idem.record, now)
	if errors.Is(err, store.ErrExists) && idem.record != nil {
		// The same key committed meanwhile (a concurrent retry).
		idem, err = s.idempotency(ctx, r, c.key, canon, raw)
		if idem.replay != nil {
			replay(w, idem.replay)
			return nil
		}
		if err == nil {
			err = &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "a request with this Idempotency-Key is in progress"}
		}
		return err
	}
	if err != nil {
		return err
	}
	writeRaw(w, status, resp)
	return nil
}

// send resolves, suppresses, and sends out; it returns the answer.
func (s *Server) send(ctx context.Context, r *http.Request, k store.APIKey, out outgoing, idem *store.IdempotencyRecord, now time.Time) (int, []byte, error) {
	submitter := out.from.Canonical()
	if !maySendAs(k, submitter) {
		return 0, nil, errForbidden("from", fmt.Sprintf("this key may not send from %s", out.from))
	}
	var hdr submission.Header
	if out.header != nil {
		hdr = *out.header
	} else {
		var err error
		if hdr, err = submission.ReadHeader(out.body, out.from.String(), s.opts.Hostname, now); err != nil {
			return 0, nil, errInvalid("from", "message header: "+err.Error())
		}
	}
	for _, a := range hdr.Senders {
		if !maySendAs(k, a.Canonical()) {
			return 0, nil, errForbidden("from", fmt.Sprintf("this key may not send as %s (From or Sender header)", a))
		}
	}
	id := store.NewTrackingID()
	resp := sendResponse{ID: id}
	m := &submission.Outgoing{
		From:        out.from.String(),
		Body:        out.body,
		WithTrace:   out.withTrace,
		Header:      hdr,
		TrackingID:  id,
		Domain:      k.Domain,
		EventData:   out.eventData,
		Submitter:   submitter,
		UTF8:        !out.from.IsASCII() || !isASCII(headerSection(out.body)),
		Idempotency: idem,
	}
	canon := make([]string, len(out.rcpts))
	for i, a := range out.rcpts {
		canon[i] = a.Canonical()
	}
	sup, err := s.opts.Store.Suppressed(ctx, k.Domain, canon)
	if err != nil {
		return 0, nil, err
	}
	var suppressed []store.Event
	for i, a := range out.rcpts {
		if j := slices.IndexFunc(sup, func(x store.Suppression) bool { return x.Address == canon[i] }); j >= 0 {
			resp.Recipients = append(resp.Recipients, recipientResult{Email: a.String(), Status: "suppressed", Reason: sup[j].Reason})
			suppressed = append(suppressed, store.Event{Type: store.EventSuppressed, Domain: k.Domain, Message: id,
				Submitter: submitter, Recipient: a.String(), Reply: sup[j].Reason, Data: out.eventData, Time: now})
			continue
		}
		at := strings.LastIndexByte(canon[i], '@')
		accts, err := store.Resolve(ctx, s.opts.Store, canon[i][:at], canon[i][at+1:], s.opts.SubaddressSeparator)
		switch {
		case errors.Is(err, store.ErrUnknownDomain):
			m.Remote = append(m.Remote, a.String())
			resp.Recipients = append(resp.Recipients, recipientResult{Email: a.String(), Status: "queued"})
		case errors.Is(err, store.ErrNotFound):
			return 0, nil, errInvalid(out.fields[i], fmt.Sprintf("%s: no such local recipient", a))
		case err != nil:
			return 0, nil, err
		default:
			for _, acct := range accts {
				if !slices.ContainsFunc(m.Targets, func(t store.Target) bool { return t.AccountID == acct.ID }) {
					m.Targets = append(m.Targets, store.Target{AccountID: acct.ID, Mailbox: store.Inbox})
				}
			}
			m.DeliverEvents = append(m.DeliverEvents, store.Event{Type: store.EventDelivered, Domain: k.Domain, Message: id,
				Submitter: submitter, Recipient: a.String(), Reply: "stored in a local mailbox", Data: out.eventData, Time: now})
			resp.Recipients = append(resp.Recipients, recipientResult{Email: a.String(), Status: "delivered"})
		}
		if !a.IsASCII() {
			m.UTF8 = true
		}
	}
	if len(m.Remote) == 0 && len(m.Targets) == 0 {
		// Every recipient is suppressed: nothing to send; 200, not 202.
		if _, err := s.opts.Store.RecordEvents(ctx, suppressed); err != nil {
			return 0, nil, err
		}
		b, err := json.Marshal(resp)
		return http.StatusOK, b, err
	}
	if len(m.Remote) > 0 {
		m.QueueEvents = suppressed
	} else {
		m.DeliverEvents = append(m.DeliverEvents, suppressed...)
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return 0, nil, err
	}
	if idem != nil {
		idem.Status, idem.Response, idem.Created = http.StatusAccepted, b, now
	}
	m.Conn = s.receivedConn(r)
	m.Hop = received.Hop{With: "HTTP", ID: id}
	if r.TLS != nil {
		m.Hop.With = "HTTPS"
	}
	if len(out.rcpts) == 1 {
		m.Hop.For = out.rcpts[0].String()
	}
	err = s.opts.Sender.Send(ctx, m, now)
	switch {
	case errors.Is(err, store.ErrOverQuota):
		return 0, nil, &Error{Status: http.StatusUnprocessableEntity, Code: CodeOverQuota, Message: "a local recipient's mailbox is full"}
	case err != nil:
		return 0, nil, err
	}
	return http.StatusAccepted, b, nil
}

// receivedConn describes the client for the Received field.
func (s *Server) receivedConn(r *http.Request) *received.Conn {
	c := &received.Conn{By: s.opts.Hostname, TLS: r.TLS, HideClient: s.opts.HideClientIP}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		c.IP = net.ParseIP(host)
	}
	return c
}

// readJSONSend decodes and builds a JSON message (package compose).
func (s *Server) readJSONSend(raw []byte, now time.Time) (outgoing, error) {
	var m compose.Message
	if err := decodeSend(raw, &m); err != nil {
		return outgoing{}, err
	}
	return s.buildJSONSend(&m, now)
}

// decodeSend decodes a JSON send request.
func decodeSend(raw []byte, m *compose.Message) error {
	if compose.DecodeCommon(raw, m) {
		return nil
	}
	return decodeJSONBody(bytes.NewReader(raw), m) // unusual input: encoding/json decides, with its errors
}

// canonicalSend is a decoded JSON send request in one form whatever the
// order of its keys, its spacing, escapes, or an address written as a
// string or an object: encoding/json writes struct fields in their order
// and map keys sorted.
func canonicalSend(m *compose.Message) []byte {
	b, _ := json.Marshal(m) // strings, slices and string maps: cannot fail
	return b
}

// buildJSONSend builds a decoded JSON message (package compose).
func (s *Server) buildJSONSend(m *compose.Message, now time.Time) (outgoing, error) {
	full, err := compose.AppendBuild(make([]byte, traceRoom, traceRoom+m.SizeHint()), m, compose.Options{Date: now})
	var fe *compose.FieldError
	if errors.As(err, &fe) {
		return outgoing{}, errInvalid(fe.Field, fe.Message)
	}
	if err != nil {
		return outgoing{}, err
	}
	from, err := smtp.ParseAddress(m.From.Email)
	if err != nil {
		return outgoing{}, errInvalid("from", err.Error())
	}
	// compose wrote From: (this address only), Date and Message-ID.
	out := outgoing{from: from, body: full[traceRoom:], withTrace: traceInFront(full),
		header: &submission.Header{Senders: []smtp.Address{from}, SignDomain: from.Domain}}
	for _, l := range []struct {
		name string
		list []compose.Address
	}{{"to", m.To}, {"cc", m.Cc}, {"bcc", m.Bcc}} {
		for i, a := range l.list {
			if err := out.addRecipient(a.Email, fmt.Sprintf("%s[%d]", l.name, i)); err != nil {
				return outgoing{}, err
			}
		}
	}
	if len(m.Tags) > 0 || len(m.Metadata) > 0 {
		out.eventData, err = json.Marshal(struct {
			Tags     []string          `json:"tags,omitempty"`
			Metadata map[string]string `json:"metadata,omitempty"`
		}{m.Tags, m.Metadata})
		if err != nil {
			return outgoing{}, err
		}
	}
	return out, nil
}

// addRecipient parses a recipient and adds it unless it is there already.
func (o *outgoing) addRecipient(addr, field string) error {
	a, err := smtp.ParseAddress(addr)
	if err != nil {
		return errInvalid(field, fmt.Sprintf("%q: not an email address", addr))
	}
	if slices.ContainsFunc(o.rcpts, func(b smtp.Address) bool { return b.Canonical() == a.Canonical() }) {
		return nil
	}
	if len(o.rcpts) >= compose.MaxRecipients {
		return errInvalid(field, fmt.Sprintf("more than %d recipients", compose.MaxRecipients))
	}
	o.rcpts = append(o.rcpts, a)
	o.fields = append(o.fields, field)
	return nil
}

// readBody reads the whole request body (within MaxBytesReader's limit)
// into one buffer sized by Content-Length when it is given.
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength <= 0 {
		return io.ReadAll(r.Body)
	}
	buf := bytes.NewBuffer(make([]byte, 0, r.ContentLength+1))
	_, err := buf.ReadFrom(r.Body)
	return buf.Bytes(), err
}

// writeRaw writes a JSON body already encoded (by json.Marshal, so
// compact and valid: not checked again).
func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(b) // buffered by net/http: two writes, one send
	w.Write(newline)
}

var newline = []byte{'\n'}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
