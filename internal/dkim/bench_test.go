package dkim_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/posthorn/posthorn/internal/dkim"
)

// benchMessage is a 10 KiB message, the size of the ingest benchmarks.
func benchMessage() string {
	return strings.SplitN(testMessage, "\r\n\r\n", 2)[0] + "\r\n\r\n" + strings.Repeat(strings.Repeat("x", 78)+"\r\n", 128)
}

func BenchmarkSign(b *testing.B) {
	keys := testKeys(b)
	for _, bc := range []struct {
		name string
		keys []dkim.Key
	}{{"rsa2048", keys[:1]}, {"ed25519", keys[1:]}, {"both", keys}} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := dkim.NewSigner(bc.keys, dkim.SignOptions{})
			if err != nil {
				b.Fatal(err)
			}
			msg := benchMessage()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				if _, err := s.Sign("example.org", strings.NewReader(msg)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify measures verification with the key lookup answered at
// once (a warm DNS cache).
func BenchmarkVerify(b *testing.B) {
	keys := testKeys(b)
	s, err := dkim.NewSigner(keys, dkim.SignOptions{})
	if err != nil {
		b.Fatal(err)
	}
	signed := sign(b, s, "example.org", benchMessage())
	r := staticTXT{}
	for _, k := range keys {
		r[dkim.RecordName(k.Selector, k.Domain)], _ = dkim.Record(k.Signer.Public())
	}
	b.SetBytes(int64(len(signed)))
	for b.Loop() {
		res, err := dkim.Verify(context.Background(), r, strings.NewReader(signed))
		if err != nil || len(res) != 2 || res[0].Status != dkim.StatusPass || res[1].Status != dkim.StatusPass {
			b.Fatalf("%+v %v", res, err)
		}
	}
}

func TestSignConcurrent(t *testing.T) {
	keys := testKeys(t)
	s, err := dkim.NewSigner(keys, dkim.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := resolverFor(t, keyZone(t, keys, ""))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			msg := strings.Replace(testMessage, "Lunch", strings.Repeat("!", i), 1)
			h, err := s.Sign("example.org", strings.NewReader(msg))
			if err != nil {
				t.Error(err)
				return
			}
			res, err := dkim.Verify(context.Background(), r, strings.NewReader(h+msg))
			if err != nil || len(res) != 2 || res[0].Status != dkim.StatusPass || res[1].Status != dkim.StatusPass {
				t.Errorf("goroutine %d: %+v %v", i, res, err)
			}
		})
	}
	wg.Wait()
}
