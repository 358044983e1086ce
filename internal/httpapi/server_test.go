package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestKeys: no key, a malformed one, an unknown one and a revoked one are
// 401 with WWW-Authenticate; a good key gets its scope; revocation takes
// effect at the next request.
func TestKeys(t *testing.T) {
	e := newEnv(t, Options{})
	shop := e.key("shop", "example.org")
	news := e.key("news", "news@example.org")
	if len(shop) != 55 || !strings.HasPrefix(shop, "ph_") {
		t.Fatalf("key %q: want ph_ and 52 characters", shop)
	}
	for _, c := range []struct{ name, auth string }{
		{"none", ""},
		{"basic", "Basic YWxpY2U6cHc="},
		{"short", "Bearer ph_abc"},
		{"unknown", "Bearer ph_" + strings.Repeat("a", 52)},
		{"right prefix, wrong rest", "Bearer " + shop[:11] + strings.Repeat("a", 44)},
	} {
		r := e.do("GET", "/api/v1/key", "", "", nil, "Authorization", c.auth)
		r.wantError(t, 401, CodeUnauthorized, "")
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: WWW-Authenticate %q", c.name, r.header.Get("WWW-Authenticate"))
		}
	}
	r := e.do("GET", "/api/v1/key", shop, "", nil)
	var k keyInfo
	if r.status != 200 || json.Unmarshal(r.body, &k) != nil || k.Name != "shop" || k.Domain != "example.org" || k.Address != "" {
		t.Errorf("GET /api/v1/key = %d %s", r.status, r.body)
	}
	r = e.do("GET", "/api/v1/key", news, "", nil)
	if r.status != 200 || json.Unmarshal(r.body, &k) != nil || k.Address != "news@example.org" {
		t.Errorf("GET /api/v1/key (address key) = %d %s", r.status, r.body)
	}
	if err := e.st.RemoveAPIKey(t.Context(), "shop"); err != nil {
		t.Fatal(err)
	}
	e.do("GET", "/api/v1/key", shop, "", nil).wantError(t, 401, CodeUnauthorized, "")
	if r := e.do("GET", "/api/v1/key", news, "", nil); r.status != 200 {
		t.Errorf("the other key after a revocation: %d %s", r.status, r.body)
	}
}

// TestRouting: unknown paths under /api are a JSON 404, a wrong method a
// JSON 405 with Allow, and paths outside /api go to Ops (a JSON 404
// without Ops).
func TestRouting(t *testing.T) {
	e := newEnv(t, Options{Ops: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ops " + r.URL.Path))
	})})
	key := e.key("shop", "example.org")
	e.do("GET", "/api/v1/nothing", key, "", nil).wantError(t, 404, CodeNotFound, "")
	e.do("GET", "/api", "", "", nil).wantError(t, 404, CodeNotFound, "") // the API's, not Ops'
	r := e.do("DELETE", "/api/v1/key", key, "", nil)
	r.wantError(t, 405, CodeMethodNotAllowed, "")
	if r.header.Get("Allow") != "GET" {
		t.Errorf("Allow %q", r.header.Get("Allow"))
	}
	if r := e.do("GET", "/healthz", "", "", nil); r.status != 200 || string(r.body) != "ops /healthz" {
		t.Errorf("Ops path: %d %q", r.status, r.body)
	}
	e2 := newEnv(t, Options{})
	e2.do("GET", "/metrics", "", "", nil).wantError(t, 404, CodeNotFound, "")
}

// TestRequestTooLarge: a declared body over the limit is refused with 413
// before it is read; an undeclared (chunked) one at the limit.
func TestRequestTooLarge(t *testing.T) {
	e := newEnv(t, Options{MaxRequestBytes: 100 << 10})
	key := e.key("shop", "example.org")
	big := strings.Repeat("x", 200<<10)
	e.do("POST", "/api/v1/key", key, "application/json", strings.NewReader(big)).wantError(t, 413, CodeTooLarge, "")
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(`{"address": "` + big + `"}`))
		pw.Close()
	}()
	e.do("POST", "/api/v1/suppressions", key, "application/json", pr).wantError(t, 413, CodeTooLarge, "")
}

// TestRateLimit: a key past its burst gets 429 with a Retry-After of
// whole seconds; another key is not affected.
func TestRateLimit(t *testing.T) {
	e := newEnv(t, Options{RateLimit: 0.5, RateBurst: 3})
	a, b := e.key("a", "example.org"), e.key("b", "example.org")
	for i := range 3 {
		if r := e.do("GET", "/api/v1/key", a, "", nil); r.status != 200 {
			t.Fatalf("request %d within the burst: %d %s", i, r.status, r.body)
		}
	}
	r := e.do("GET", "/api/v1/key", a, "", nil)
	r.wantError(t, 429, CodeRateLimited, "")
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 2 {
		t.Errorf("Retry-After %q, want 1 or 2 seconds at 0.5/s", r.header.Get("Retry-After"))
	}
	if r := e.do("GET", "/api/v1/key", b, "", nil); r.status != 200 {
		t.Errorf("another key: %d", r.status)
	}
}

// TestLimiter checks the token bucket on a fake clock.
func TestLimiter(t *testing.T) {
	l := newLimiter(10, 2)
	t0 := time.Unix(1000, 0)
	for i := range 2 {
		if ok, _ := l.take(1, t0); !ok {
			t.Fatalf("take %d refused", i)
		}
	}
	ok, wait := l.take(1, t0)
	if ok || wait != 100*time.Millisecond {
		t.Errorf("third take = %v %v, want refused for 100ms", ok, wait)
	}
	if ok, _ := l.take(1, t0.Add(100*time.Millisecond)); !ok {
		t.Error("refused after the refill")
	}
	if ok, _ := newLimiter(0, 0).take(1, t0); !ok {
		t.Error("no limit refused")
	}
}
