package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/certs/certstest"
	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/httpapi"
)

// TestHTTPListener: with [tls] the "http" role speaks HTTPS with the
// shared certificate and plain HTTP is refused; with http.plaintext it
// speaks plain HTTP; either way the API answers (JSON 401 without a key)
// and Shutdown ends it cleanly.
func TestHTTPListener(t *testing.T) {
	dir := t.TempDir()
	files := certstest.Dev(t, filepath.Join(dir, "tls"), []string{"mx.example.org"}, net.ParseIP("127.0.0.1"))
	caPEM, err := os.ReadFile(files.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	for _, plaintext := range []bool{false, true} {
		cfg, err := config.Parse("test.toml", []byte(fmt.Sprintf(`hostname = "mx.example.org"
data_dir = %q
[[listeners]]
role = "http"
address = "127.0.0.1:0"
[tls]
cert_file = %q
key_file = %q
[http]
plaintext = %v
`, filepath.Join(dir, fmt.Sprint("data", plaintext)), files.CertFile, files.KeyFile, plaintext)))
		if err != nil {
			t.Fatal(err)
		}
		d, err := Start(context.Background(), cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		addr := d.Addrs()["http"].String()
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "mx.example.org"}}}
		get := func(scheme string) (int, error) {
			res, err := client.Get(scheme + "://" + addr + "/api/v1/key")
			if err != nil {
				return 0, err
			}
			defer res.Body.Close()
			io.Copy(io.Discard, res.Body)
			if ct := res.Header.Get("Content-Type"); res.StatusCode == 401 && ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			return res.StatusCode, nil
		}
		want, other := "https", "http"
		if plaintext {
			want, other = "http", "https"
		}
		if code, err := get(want); err != nil || code != 401 {
			t.Errorf("plaintext=%v: %s: %d %v, want 401", plaintext, want, code, err)
		}
		if code, err := get(other); err == nil && code < 400 {
			t.Errorf("plaintext=%v: %s answered %d", plaintext, other, code)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		cancel()
		select {
		case err := <-d.Errors():
			t.Errorf("serve error after Shutdown: %v", err)
		default:
		}
	}
}

// TestHTTPMaxConnections: past http.max_connections a client waits to be
// accepted until another connection closes.
func TestHTTPMaxConnections(t *testing.T) {
	d := startConfig(t, fmt.Sprintf(`hostname = "mx.example.org"
data_dir = %q
[[listeners]]
role = "http"
address = "127.0.0.1:0"
[http]
max_connections = 1
`, t.TempDir()), slog.New(slog.DiscardHandler))
	addr := d.Addrs()["http"].String()
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(first, "GET /api/v1/key HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 512)
	first.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := first.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 401") {
		t.Fatalf("first connection: %q %v", buf[:n], err)
	}
	second, err := net.Dial("tcp", addr) // queued in the kernel's backlog
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	io.WriteString(second, "GET /api/v1/key HTTP/1.1\r\nHost: x\r\n\r\n")
	second.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := second.Read(buf); err == nil {
		t.Fatalf("second connection served beside the first: %q", buf[:n])
	}
	first.Close()
	second.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := second.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 401") {
		t.Errorf("second connection after the first closed: %q %v", buf[:n], err)
	}
}

// TestHTTPLimitsFromConfig: [http] rate_limit, rate_burst and
// max_request_size reach the API of a running daemon.
func TestHTTPLimitsFromConfig(t *testing.T) {
	d := startConfig(t, fmt.Sprintf(`hostname = "mx.example.org"
domains = ["example.org"]
data_dir = %q
[[listeners]]
role = "http"
address = "127.0.0.1:0"
[http]
rate_limit = 0.01
rate_burst = 2
max_request_size = "64KiB"
`, t.TempDir()), slog.New(slog.DiscardHandler))
	token, k := httpapi.NewKey()
	k.Name, k.Domain = "t", "example.org"
	if _, err := d.Store().AddAPIKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	base := "http://" + d.Addrs()["http"].String()
	do := func(method, path string, body io.Reader) (int, http.Header) {
		req, _ := http.NewRequest(method, base+path, body)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, res.Header
	}
	// Refused before the key is looked at: no token taken.
	if code, _ := do("POST", "/api/v1/messages", strings.NewReader(strings.Repeat(" ", 100<<10))); code != 413 {
		t.Errorf("100 KiB body: %d, want 413", code)
	}
	for i := range 2 {
		if code, _ := do("GET", "/api/v1/key", nil); code != 200 {
			t.Errorf("request %d within the burst: %d", i, code)
		}
	}
	code, h := do("GET", "/api/v1/key", nil)
	if code != 429 || h.Get("Retry-After") == "" {
		t.Errorf("third request: %d Retry-After %q, want 429 with Retry-After", code, h.Get("Retry-After"))
	}
}
