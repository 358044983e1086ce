package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/auth"
	"github.com/posthorn/posthorn/internal/daemon"
)

func TestAppPasswordCommands(t *testing.T) {
	dir := t.TempDir()
	dd := "-data-dir=" + dir
	runCLI(t, "", "domain", "add", dd, "example.org")
	if code, _, e := runCLI(t, "s3cret-passw0rd\n", "account", "add", dd, "alice@example.org"); code != 0 {
		t.Fatal(e)
	}
	code, out, errOut := runCLI(t, "", "account", "app-password", "add", dd, "Alice@example.org", "phone")
	if code != 0 {
		t.Fatalf("add: %d %s", code, errOut)
	}
	m := regexp.MustCompile(`(?m)^password: (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("add printed no password: %q", out)
	}
	pw := m[1]

	for _, s := range []struct {
		args    []string
		code    int
		wantOut string
	}{
		{[]string{"add", dd, "alice@example.org", "phone"}, 1, `already has an app password named "phone"`},
		{[]string{"add", dd, "nobody@example.org", "phone"}, 1, "no account nobody@example.org"},
		{[]string{"add", dd, "alice@example.org"}, 2, "name an address and an app password name"},
		{[]string{"list", dd, "alice@example.org"}, 0, "phone"},
		{[]string{"list", dd, "nobody@example.org"}, 1, "no account"},
		{[]string{"rm", dd, "alice@example.org", "tablet"}, 1, `no app password named "tablet"`},
	} {
		code, out, errOut := runCLI(t, "", append([]string{"account", "app-password"}, s.args...)...)
		got := out
		if code != 0 {
			got = errOut
		}
		if code != s.code || !strings.Contains(got, s.wantOut) {
			t.Errorf("app-password %v: exit %d %q, want %d and %q", s.args, code, got, s.code, s.wantOut)
		}
	}
	_, list, _ := runCLI(t, "", "account", "app-password", "list", dd, "alice@example.org")
	if strings.Contains(list, pw) {
		t.Error("list prints the password")
	}

	login := func() error {
		t.Helper()
		st, err := daemon.OpenStore(context.Background(), dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		svc := auth.NewService(st, auth.ServiceOptions{Throttle: auth.ThrottleOptions{Disabled: true}})
		_, err = svc.Login(context.Background(), auth.LoginRequest{Username: "alice@example.org", Password: pw, Protocol: "imap"})
		return err
	}
	if err := login(); err != nil {
		t.Fatalf("the printed app password does not log in: %v", err)
	}
	if code, _, e := runCLI(t, "", "account", "app-password", "rm", dd, "alice@example.org", "phone"); code != 0 {
		t.Fatal(e)
	}
	if err := login(); !errors.Is(err, auth.ErrFailed) {
		t.Errorf("revoked app password: %v, want ErrFailed", err)
	}
	if _, out, _ := runCLI(t, "", "account", "app-password", "list", dd, "alice@example.org"); out != "" {
		t.Errorf("list after rm: %q", out)
	}
}

func TestSendAsCommand(t *testing.T) {
	dir := t.TempDir()
	dd := "-data-dir=" + dir
	runCLI(t, "", "domain", "add", dd, "example.org")
	runCLI(t, "", "account", "add", dd, "-generate", "alice@example.org")
	if code, out, e := runCLI(t, "", "account", "send-as", dd, "alice@example.org", "domain"); code != 0 || !strings.Contains(out, "any address of its domain") {
		t.Fatalf("send-as domain: %d %q %q", code, out, e)
	}
	st, err := daemon.OpenStore(context.Background(), dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a, err := st.Account(context.Background(), "alice@example.org")
	st.Close()
	if err != nil || !a.MaySendAsDomain {
		t.Errorf("after send-as domain: %+v, %v", a, err)
	}
	if code, _, _ := runCLI(t, "", "account", "send-as", dd, "alice@example.org", "everyone"); code != 2 {
		t.Errorf("send-as everyone: exit %d, want 2", code)
	}
	if code, _, e := runCLI(t, "", "account", "send-as", dd, "bob@example.org", "own"); code != 1 || !strings.Contains(e, "no account") {
		t.Errorf("send-as unknown: %d %q", code, e)
	}
}
