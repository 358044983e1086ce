package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
	"github.com/posthorn/posthorn/internal/store/sqlite"
	"github.com/posthorn/posthorn/internal/submission"
)

// env is an API server on loopback over a fresh store with the domain
// example.org.
type env struct {
	t   *testing.T
	st  store.Store
	api *Server
	url string
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "store.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.AddDomain(t.Context(), "example.org"); err != nil {
		t.Fatal(err)
	}
	opts.Store = st
	if opts.Sender == nil {
		opts.Sender = submission.New(submission.Options{Store: st, Hostname: "mail.example.org"})
	}
	opts.Hostname = "mail.example.org"
	api := New(opts)
	t.Cleanup(api.Close)
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = api.HTTPServer()
	srv.Start()
	t.Cleanup(srv.Close)
	return &env{t: t, st: st, api: api, url: srv.URL}
}

// key makes an API key scoped to scope (a domain or an address).
func (e *env) key(name, scope string) string {
	e.t.Helper()
	token, k := NewKey()
	k.Name = name
	k.Domain = scope
	if i := strings.LastIndexByte(scope, '@'); i >= 0 {
		k.Address, k.Domain = scope, scope[i+1:]
	}
	if _, err := e.st.AddAPIKey(e.t.Context(), k); err != nil {
		e.t.Fatal(err)
	}
	return token
}

// response is an answer as the test sees it.
type response struct {
	status int
	header http.Header
	body   []byte
}

// apiErr decodes the error body, failing the test when it is not one.
func (r response) apiErr(t *testing.T) Error {
	t.Helper()
	var v struct {
		Error *Error `json:"error"`
	}
	if err := json.Unmarshal(r.body, &v); err != nil || v.Error == nil {
		t.Fatalf("status %d, body %q: not an error object (%v)", r.status, r.body, err)
	}
	return *v.Error
}

// wantError checks an error answer's status, code and field.
func (r response) wantError(t *testing.T, status int, code, field string) Error {
	t.Helper()
	e := r.apiErr(t)
	if r.status != status || e.Code != code || e.Field != field {
		t.Errorf("got %d %s field %q (%s), want %d %s field %q", r.status, e.Code, e.Field, e.Message, status, code, field)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q", ct)
	}
	return e
}

// do sends a request with key (none when "") and returns the answer.
func (e *env) do(method, path, key, contentType string, body io.Reader, header ...string) response {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}
