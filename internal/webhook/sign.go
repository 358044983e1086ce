package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// The request headers (see the package documentation).
const (
	HeaderEventID   = "Posthorn-Event-Id"
	HeaderTimestamp = "Posthorn-Timestamp"
	HeaderSignature = "Posthorn-Signature"
)

// Sign returns the Posthorn-Signature value for body sent at timestamp
// (Unix seconds): "v1=" and hex(HMAC-SHA256(secret, timestamp "." body)).
func Sign(secret string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Errors from Verify.
var (
	ErrBadSignature = errors.New("webhook signature does not match")
	ErrStale        = errors.New("webhook timestamp too far from now")
)

// Verify checks a request as a receiver should: timestamp is the
// Posthorn-Timestamp header, signature the Posthorn-Signature header
// (several comma-separated values are allowed, for secret rotation), body
// the raw request body; the timestamp must be within tolerance of now.
func Verify(secret, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	want := Sign(secret, ts, body)
	for _, s := range strings.Split(signature, ",") {
		if hmac.Equal([]byte(strings.TrimSpace(s)), []byte(want)) {
			return nil
		}
	}
	return ErrBadSignature
}
