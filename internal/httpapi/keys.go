package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"net/http"
	"strings"

	"github.com/posthorn/posthorn/internal/store"
)

// tokenEncoding writes API keys in lower-case base32 without look-alike
// letters (i, l, o, u).
var tokenEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

const (
	tokenPrefix = "ph_"
	tokenLen    = len(tokenPrefix) + 52 // 256 bits
	prefixLen   = len(tokenPrefix) + 8  // the public part stored in clear
)

// NewKey makes a new API key: the token to show once, and the store row
// to keep (Prefix and Hash set; the caller sets Name, Domain, Address).
func NewKey() (token string, k store.APIKey) {
	var b [32]byte
	rand.Read(b[:])
	token = tokenPrefix + tokenEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(token))
	return token, store.APIKey{Prefix: token[:prefixLen], Hash: h[:]}
}

var errNoKey = &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized,
	Message: "send an API key as Authorization: Bearer ph_..."}

var errBadKey = &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized,
	Message: "API key unknown or revoked"}

// authenticate finds the key of an "Authorization: Bearer" header.
func (s *Server) authenticate(ctx context.Context, r *http.Request) (store.APIKey, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return store.APIKey{}, errNoKey
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return store.APIKey{}, errNoKey
	}
	token = strings.TrimSpace(token)
	if len(token) != tokenLen || !strings.HasPrefix(token, tokenPrefix) {
		return store.APIKey{}, s.badKey()
	}
	keys, err := s.opts.Store.APIKeysByPrefix(ctx, token[:prefixLen])
	if err != nil {
		return store.APIKey{}, err
	}
	h2 := sha256.Sum256([]byte(token))
	for _, k := range keys {
		if subtle.ConstantTimeCompare(k.Hash, h2[:]) == 1 {
			return k, nil
		}
	}
	return store.APIKey{}, s.badKey()
}

// maySendAs reports whether key k may send from the canonical address
// addr: an address of its domain, or its one address.
func maySendAs(k store.APIKey, addr string) bool {
	if k.Address != "" {
		return addr == k.Address
	}
	at := strings.LastIndexByte(addr, '@')
	return at > 0 && addr[at+1:] == k.Domain
}

// domainKey refuses keys limited to one address (403) on routes that read
// or change settings of the whole domain: its suppression list and its
// webhook endpoints. Such a key sends, follows its messages and manages
// the inbound routes of its address.
func domainKey(h handler) handler {
	return func(w http.ResponseWriter, r *http.Request, c *call) error {
		if c.key.Address != "" {
			return errForbidden("", fmt.Sprintf("this key is limited to %s; the domain's suppressions and webhooks need a key for the domain", c.key.Address))
		}
		return h(w, r, c)
	}
}
