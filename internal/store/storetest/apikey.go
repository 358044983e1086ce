package storetest

import (
	"bytes"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// What the HTTP API needs: keys and idempotency records.

func testAPIKeys(t *testing.T, f *fixture) {
	s, ctx := f.s, f.ctx
	f.domain("example.org")
	f.domain("example.net")
	h := sha256.Sum256([]byte("ph_secret"))
	k, err := s.AddAPIKey(ctx, store.APIKey{Name: "shop", Domain: "example.org", Prefix: "ph_abcd", Hash: h[:]})
	if err != nil || k.ID == 0 || k.Created.IsZero() {
		t.Fatalf("AddAPIKey = %+v, %v", k, err)
	}
	_, err = s.AddAPIKey(ctx, store.APIKey{Name: "shop", Domain: "example.net", Prefix: "ph_x", Hash: h[:]})
	wantErr(t, "AddAPIKey same name", err, store.ErrExists)
	_, err = s.AddAPIKey(ctx, store.APIKey{Name: "n", Domain: "nowhere.example", Prefix: "ph_x", Hash: h[:]})
	wantErr(t, "AddAPIKey unknown domain", err, store.ErrUnknownDomain)
	_, err = s.AddAPIKey(ctx, store.APIKey{Name: "n", Domain: "example.org", Address: "a@example.net", Prefix: "ph_x", Hash: h[:]})
	wantErr(t, "AddAPIKey address of another domain", err, store.ErrInvalid)
	_, err = s.AddAPIKey(ctx, store.APIKey{Name: "n", Domain: "example.org", Prefix: "ph_x", Hash: h[:5]})
	wantErr(t, "AddAPIKey short hash", err, store.ErrInvalid)
	if _, err := s.AddAPIKey(ctx, store.APIKey{Name: "news", Domain: "example.net", Address: "news@example.net", Prefix: "ph_efgh", Hash: h[:]}); err != nil {
		t.Fatal(err)
	}
	got, err := s.APIKeysByPrefix(ctx, "ph_abcd")
	if err != nil || len(got) != 1 || got[0].ID != k.ID || got[0].Domain != "example.org" || !bytes.Equal(got[0].Hash, h[:]) {
		t.Errorf("APIKeysByPrefix = %+v, %v", got, err)
	}
	if got, err := s.APIKeysByPrefix(ctx, "ph_none"); err != nil || got != nil {
		t.Errorf("APIKeysByPrefix(none) = %+v, %v", got, err)
	}
	all, err := s.APIKeys(ctx, "")
	if err != nil || len(all) != 2 || all[0].Name != "news" || all[1].Name != "shop" || all[0].Address != "news@example.net" {
		t.Errorf("APIKeys(all) = %+v, %v", all, err)
	}
	if one, err := s.APIKeys(ctx, "example.org"); err != nil || len(one) != 1 || one[0].Name != "shop" {
		t.Errorf("APIKeys(example.org) = %+v, %v", one, err)
	}

	// Idempotency records go with the send, and only once.
	rec := &store.IdempotencyRecord{KeyID: k.ID, Key: "k1", RequestHash: []byte{1, 2}, Status: 202, Response: []byte(`{"id":"x"}`)}
	if _, err := s.Enqueue(ctx, store.QueuedMessage{From: "a@example.org", Recipients: []string{"b@example.com"}, Body: []byte("x"), Idempotency: rec}); err != nil {
		t.Fatal(err)
	}
	r, err := s.IdempotencyRecord(ctx, k.ID, "k1")
	if err != nil || r.Status != 202 || string(r.Response) != `{"id":"x"}` || !bytes.Equal(r.RequestHash, []byte{1, 2}) || r.Created.IsZero() {
		t.Errorf("IdempotencyRecord = %+v, %v", r, err)
	}
	before, _ := s.QueuedMessages(ctx, 0)
	_, err = s.Enqueue(ctx, store.QueuedMessage{From: "a@example.org", Recipients: []string{"b@example.com"}, Body: []byte("x"), Idempotency: rec})
	wantErr(t, "Enqueue with a used idempotency key", err, store.ErrExists)
	if after, _ := s.QueuedMessages(ctx, 0); len(after) != len(before) {
		t.Errorf("Enqueue with a used idempotency key queued a message: %d -> %d", len(before), len(after))
	}
	acct := f.account("alice@example.org")
	_, err = s.Deliver(ctx, store.Delivery{Body: []byte("x"), Targets: []store.Target{{AccountID: acct.ID}}, Idempotency: rec})
	wantErr(t, "Deliver with a used idempotency key", err, store.ErrExists)
	if n := len(f.messages(f.mailbox(acct.ID, store.Inbox).ID)); n != 0 {
		t.Errorf("Deliver with a used idempotency key stored %d messages", n)
	}
	rec2 := &store.IdempotencyRecord{KeyID: k.ID, Key: "k2", RequestHash: []byte{3}, Status: 202, Response: []byte(`{}`)}
	f.deliver(store.Delivery{Body: []byte("x"), Targets: []store.Target{{AccountID: acct.ID}}, Idempotency: rec2})
	if _, err := s.IdempotencyRecord(ctx, k.ID, "k2"); err != nil {
		t.Errorf("record stored by Deliver: %v", err)
	}
	_, err = s.IdempotencyRecord(ctx, k.ID+1000, "k1")
	wantErr(t, "IdempotencyRecord of another key", err, store.ErrNotFound)
	if n, err := s.PruneIdempotency(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("PruneIdempotency(an hour ago) = %d, %v", n, err)
	}
	if n, err := s.PruneIdempotency(ctx, time.Now().Add(time.Second)); err != nil || n != 2 {
		t.Errorf("PruneIdempotency(now) = %d, %v", n, err)
	}

	// Revocation removes the key and its records.
	rec3 := &store.IdempotencyRecord{KeyID: k.ID, Key: "k3", RequestHash: []byte{3}, Status: 202, Response: []byte(`{}`)}
	f.deliver(store.Delivery{Body: []byte("x"), Targets: []store.Target{{AccountID: acct.ID}}, Idempotency: rec3})
	if err := s.RemoveAPIKey(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "RemoveAPIKey twice", s.RemoveAPIKey(ctx, "shop"), store.ErrNotFound)
	if got, err := s.APIKeysByPrefix(ctx, "ph_abcd"); err != nil || len(got) != 0 {
		t.Errorf("removed key still found: %+v, %v", got, err)
	}
	_, err = s.IdempotencyRecord(ctx, k.ID, "k3")
	wantErr(t, "record of a removed key", err, store.ErrNotFound)
}
