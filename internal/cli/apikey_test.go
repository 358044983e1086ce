package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/config"
	"github.com/posthorn/posthorn/internal/daemon"
)

// TestAPIKeyCommands: a key made by the CLI works against a running
// daemon's "http" listener; list never shows it; revoke from the CLI ends
// it at the next request.
func TestAPIKeyCommands(t *testing.T) {
	dir := t.TempDir()
	dd := "-data-dir=" + dir
	runCLI(t, "", "domain", "add", dd, "example.org")
	code, token, errOut := runCLI(t, "", "apikey", "create", dd, "shop", "example.org")
	token = strings.TrimSpace(token)
	if code != 0 || len(token) != 55 || !strings.HasPrefix(token, "ph_") || !strings.Contains(errOut, "shown only now") {
		t.Fatalf("create: %d %q %q", code, token, errOut)
	}
	for _, s := range []struct {
		args    []string
		code    int
		wantOut string
	}{
		{[]string{"create", dd, "shop", "example.org"}, 1, `API key named "shop" exists already`},
		{[]string{"create", dd, "other", "example.net"}, 1, "example.net is not a domain of this server"},
		{[]string{"create", dd, "news", "News@Example.org"}, 0, ""},
		{[]string{"create", dd, "x"}, 2, "name the key"},
		{[]string{"list", dd}, 0, "news  news@example.org  ph_"},
		{[]string{"list", dd, "example.org"}, 0, "shop  example.org       " + token[:11] + "..."},
		{[]string{"revoke", dd, "nothing"}, 1, `no API key named "nothing"`},
	} {
		code, out, errOut := runCLI(t, "", append([]string{"apikey"}, s.args...)...)
		got := out
		if code != 0 {
			got = errOut
		}
		if code != s.code || !strings.Contains(got, s.wantOut) {
			t.Errorf("apikey %v: exit %d %q, want %d and %q", s.args, code, got, s.code, s.wantOut)
		}
	}
	if _, list, _ := runCLI(t, "", "apikey", "list", dd); strings.Contains(list, token[11:]) {
		t.Error("list prints the key")
	}

	cfg, err := config.Parse("t.toml", []byte(fmt.Sprintf(`hostname = "mail.example.org"
data_dir = %q
[[listeners]]
role = "http"
address = "127.0.0.1:0"
`, dir)))
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.Start(t.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}()
	url := "http://" + d.Addrs()["http"].String() + "/api/v1/key"
	get := func() int {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	if s := get(); s != 200 {
		t.Fatalf("key from the CLI: %d", s)
	}
	if code, out, e := runCLI(t, "", "apikey", "revoke", dd, "shop"); code != 0 || !strings.Contains(out, `revoked API key "shop"`) {
		t.Fatalf("revoke: %d %q %q", code, out, e)
	}
	if s := get(); s != 401 {
		t.Errorf("revoked key: %d, want 401 at once", s)
	}
}
