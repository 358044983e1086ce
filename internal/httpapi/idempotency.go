package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// Idempotency-Key (draft-ietf-httpapi-idempotency-key-header-07): a POST
// carrying the header is answered once; a retry with the same key (per
// API key) and the same request gets the first answer again and sends
// nothing. The record is written in the same commit as the send
// (submission.Outgoing.Idempotency), so an answer is never kept for
// a send that did not happen, nor a send made without its record, with one
// exception: when a message goes both to local mailboxes and to the queue
// and the server dies between the two writes, a retry sends the queued
// copy again (as SMTP submission would after a 451). Per the draft (§2.7):
// the same key with another request is 422; the same key while the first
// request is still in progress is 409. A send whose every recipient is
// suppressed is not recorded (nothing was sent). Records expire after
// IdempotencyTTL.

// IdempotencyTTL is how long an Idempotency-Key's answer is kept.
const IdempotencyTTL = 24 * time.Hour

type idemResult struct {
	record *store.IdempotencyRecord // to store with the send; nil without the header
	replay *store.IdempotencyRecord // a stored answer to give again
}

// idempotency checks the request's Idempotency-Key against the stored
// records. body is the request in the form compared (canonicalSend for
// JSON); raw as it came: a record written before requests were compared
// decoded holds the hash of the raw bytes, which still matches a retry.
func (s *Server) idempotency(ctx context.Context, r *http.Request, k store.APIKey, body, raw []byte) (idemResult, error) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return idemResult{}, nil
	}
	if len(key) > maxIdempotencyKey || !printable(key) {
		return idemResult{}, errBadRequest("Idempotency-Key", "Idempotency-Key: 1 to 255 printable ASCII characters")
	}
	sum := requestHash(r, body)
	rec, err := s.opts.Store.IdempotencyRecord(ctx, k.ID, key)
	if err == nil && s.now().Sub(rec.Created) > IdempotencyTTL {
		// Expired but not pruned yet: prune now, so that the new record
		// can be written with the send.
		if _, err := s.opts.Store.PruneIdempotency(ctx, s.now().Add(-IdempotencyTTL)); err != nil {
			return idemResult{}, err
		}
		err = store.ErrNotFound
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return idemResult{record: &store.IdempotencyRecord{KeyID: k.ID, Key: key, RequestHash: sum}}, nil
	case err != nil:
		return idemResult{}, err
	case !bytes.Equal(rec.RequestHash, sum) && (bytes.Equal(body, raw) || !bytes.Equal(rec.RequestHash, requestHash(r, raw))):
		return idemResult{}, &Error{Status: http.StatusUnprocessableEntity, Code: CodeKeyReused, Field: "Idempotency-Key",
			Message: "this Idempotency-Key was used for another request"}
	}
	return idemResult{replay: &rec}, nil
}

// requestHash is the SHA-256 of the request: method, path, query, media
// type and body.
func requestHash(r *http.Request, body []byte) []byte {
	h := sha256.New()
	for _, part := range []string{r.Method, r.URL.Path, r.URL.RawQuery, mediaType(r)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	h.Write(body)
	return h.Sum(nil)
}

// replay writes a stored answer again.
func replay(w http.ResponseWriter, rec *store.IdempotencyRecord) {
	w.Header().Set("Idempotent-Replayed", "true")
	writeRaw(w, rec.Status, rec.Response)
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// pruneIdempotency removes expired records every hour until ctx ends.
func (s *Server) pruneIdempotency(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if _, err := s.opts.Store.PruneIdempotency(ctx, s.now().Add(-IdempotencyTTL)); err != nil && ctx.Err() == nil {
			s.log.Warn("http api: pruning idempotency records", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
