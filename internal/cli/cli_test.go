package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs posthorn in-process and returns exit status, stdout, stderr.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	return runCLIWith(t, nil, stdin, args...)
}

// runCLIWith is runCLI with the Env adjusted by hooks (test hooks).
func runCLIWith(t *testing.T, hooks func(*Env), stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	if hooks != nil {
		hooks(env)
	}
	code := Main(context.Background(), env, args)
	return code, out.String(), errb.String()
}

func TestAdminCommands(t *testing.T) {
	dd := "-data-dir=" + t.TempDir()
	steps := []struct {
		stdin   string
		args    []string
		code    int
		wantOut string // substring of stdout (code 0) or stderr (code != 0)
	}{
		{"", []string{"domain", "add", dd, "Example.ORG"}, 0, "added domain example.org"},
		{"", []string{"domain", "add", dd, "example.org"}, 1, "already exists"},
		{"", []string{"domain", "add", dd, "not a domain"}, 1, "not a valid domain"},
		{"", []string{"domain", "list", dd}, 0, "example.org"},
		{"s3cret-passw0rd\n", []string{"account", "add", dd, "Alice@example.org"}, 0, "added account alice@example.org"},
		{"s3cret-passw0rd\n", []string{"account", "add", dd, "alice@example.org"}, 1, "already exists"},
		{"s3cret-passw0rd\n", []string{"account", "add", dd, "bob@unknown.example"}, 1, "not served here"},
		{"s3cret-passw0rd\n", []string{"account", "add", dd, "no-at-sign"}, 1, "not a valid address"},
		{"", []string{"account", "add", dd, "carol@example.org"}, 1, "no password"},
		{"short\n", []string{"account", "add", dd, "carol@example.org"}, 1, "shorter than 8"},
		{"", []string{"account", "add", dd, "-generate", "carol@example.org"}, 0, "password: "},
		{"", []string{"account", "list", dd}, 0, "carol@example.org"},
		{"", []string{"account", "list", dd, "nope.example"}, 1, "not served here"},
		{"new-passw0rd!\n", []string{"account", "passwd", dd, "alice@example.org"}, 0, "password of alice@example.org changed"},
		{"new-passw0rd!\n", []string{"account", "passwd", dd, "zed@example.org"}, 1, "no account"},
		{"", []string{"alias", "add", dd, "postmaster@example.org", "alice@example.org"}, 0, "added alias"},
		{"", []string{"alias", "add", dd, "postmaster@example.org", "alice@example.org"}, 1, "already exists"},
		{"", []string{"alias", "add", dd, "sales@example.org", "nobody@example.org"}, 1, "no account nobody@example.org"},
		{"", []string{"alias", "add", dd, "alice@example.org", "carol@example.org"}, 1, "already exists"},
		{"", []string{"alias", "add", dd, "@example.org", "alice@example.org", "carol@example.org"}, 0, "added alias @example.org"},
		{"", []string{"alias", "list", dd}, 0, "@example.org -> alice@example.org, carol@example.org"},
		{"", []string{"domain", "rm", dd, "example.org"}, 1, "still has accounts or aliases"},
		{"", []string{"domain", "rm", dd, "nope.example"}, 1, "does not exist"},
		{"", []string{"alias", "rm", dd, "postmaster@example.org"}, 0, "removed alias"},
		{"", []string{"alias", "rm", dd, "postmaster@example.org"}, 1, "no alias"},
		{"", []string{"alias", "rm", dd, "@example.org"}, 0, "removed alias"},
		{"", []string{"account", "rm", dd, "alice@example.org"}, 0, "removed account"},
		{"", []string{"account", "rm", dd, "carol@example.org"}, 0, "removed account"},
		{"", []string{"account", "rm", dd, "carol@example.org"}, 1, "no account"},
		{"", []string{"domain", "rm", dd, "example.org"}, 0, "removed domain"},
		{"", []string{"domain", "list", dd}, 0, ""},
		{"", []string{"account", "add", dd}, 2, "name exactly one address"},
		{"", []string{"frobnicate"}, 2, "unknown command"},
		{"", []string{"domain", "frob"}, 2, "unknown subcommand"},
	}
	for _, s := range steps {
		code, out, errOut := runCLI(t, s.stdin, s.args...)
		if code != s.code {
			t.Fatalf("posthorn %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(s.args, " "), code, s.code, out, errOut)
		}
		got := out
		if code != 0 {
			got = errOut
		}
		if !strings.Contains(got, s.wantOut) {
			t.Fatalf("posthorn %s: output %q lacks %q", strings.Join(s.args, " "), got, s.wantOut)
		}
	}
}

func TestPasswordNeverPrintedUnlessGenerated(t *testing.T) {
	dd := "-data-dir=" + t.TempDir()
	runCLI(t, "", "domain", "add", dd, "example.org")
	_, out, errOut := runCLI(t, "typed-secret-42\n", "account", "add", dd, "a@example.org")
	if strings.Contains(out+errOut, "typed-secret-42") {
		t.Fatal("a typed password was echoed")
	}
}

func TestHelpDocumentsEveryCommand(t *testing.T) {
	code, out, _ := runCLI(t, "", "help")
	if code != 0 {
		t.Fatalf("help exit %d", code)
	}
	for _, c := range commands() {
		if !strings.Contains(out, c.name) {
			t.Errorf("help does not list %s", c.name)
		}
		paths := [][]string{{c.name}}
		for _, s := range c.sub {
			paths = append(paths, []string{c.name, s.name})
		}
		for _, p := range paths {
			code, out, _ := runCLI(t, "", append([]string{"help"}, p...)...)
			if code != 0 || !strings.Contains(out, "Usage: posthorn "+strings.Join(p, " ")) {
				t.Errorf("help %s: exit %d, output %q", strings.Join(p, " "), code, out)
			}
			if len(p) == 2 || c.sub == nil {
				code, _, errOut := runCLI(t, "", append(p, "-h")...)
				if code != 0 || !strings.Contains(errOut, "Usage:") {
					t.Errorf("%s -h: exit %d, output %q", strings.Join(p, " "), code, errOut)
				}
			}
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "", "version")
	if code != 0 || !strings.Contains(out, "posthorn ") || !strings.Contains(out, "go1.") {
		t.Fatalf("version: exit %d, %q", code, out)
	}
}

func TestConfigCheckAndSample(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("hostname = \"mx.example.org\"\nhostnme = \"x\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "", "config", "check", bad)
	if code != 1 || !strings.Contains(errOut, "bad.toml:2") || !strings.Contains(errOut, `did you mean "hostname"`) {
		t.Fatalf("config check of a bad file: exit %d, stderr %q", code, errOut)
	}

	code, sample, _ := runCLI(t, "", "config", "sample")
	if code != 0 || !strings.Contains(sample, "[limits.smtp]") {
		t.Fatalf("config sample: exit %d", code)
	}
	// What `config sample` prints must pass `config check` as it is.
	good := filepath.Join(dir, "good.toml")
	if err := os.WriteFile(good, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "", "config", "check", good)
	if code != 0 || !strings.Contains(out, "ok") || errOut != "" {
		t.Fatalf("config check of the sample: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// Valid, but on PostgreSQL with no connection string anywhere: ok, and
	// a note naming what serve would miss.
	pg := filepath.Join(dir, "pg.toml")
	if err := os.WriteFile(pg, []byte("hostname = \"mx.example.org\"\n[store]\nbackend = \"postgres\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, "", "config", "check", pg) // runCLI's environment is empty
	if code != 0 || !strings.Contains(out, "ok") || !strings.Contains(errOut, "POSTHORN_STORE_DSN") {
		t.Fatalf("config check on postgres without a DSN: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	withDSN := func(e *Env) {
		e.Getenv = func(k string) string {
			if k == "POSTHORN_STORE_DSN" {
				return "postgres://posthorn@db.example/posthorn"
			}
			return ""
		}
	}
	if code, _, errOut = runCLIWith(t, withDSN, "", "config", "check", pg); code != 0 || errOut != "" {
		t.Fatalf("config check on postgres with POSTHORN_STORE_DSN: exit %d, stderr %q", code, errOut)
	}
}

func TestDKIMCommands(t *testing.T) {
	data := t.TempDir()
	dd := "-data-dir=" + data
	if code, _, errs := runCLI(t, "", "dkim", "keygen", dd, "example.org"); code != 1 || !strings.Contains(errs, "not served here") {
		t.Fatalf("keygen for an unknown domain: %d %q", code, errs)
	}
	runCLI(t, "", "domain", "add", dd, "example.org")
	code, out, errs := runCLI(t, "", "dkim", "keygen", dd, "Example.org")
	if code != 0 || strings.Count(out, "._domainkey.example.org. 3600 IN TXT \"v=DKIM1; k=") != 2 ||
		!strings.Contains(out, "k=rsa") || !strings.Contains(out, "k=ed25519") {
		t.Fatalf("keygen: %d\n%s%s", code, out, errs)
	}
	if code, _, errs := runCLI(t, "", "dkim", "keygen", dd, "example.org"); code != 1 || !strings.Contains(errs, "already has a key") {
		t.Errorf("second keygen the same day: %d %q", code, errs)
	}
	if code, out, _ := runCLI(t, "", "dkim", "keygen", dd, "-algorithm", "ed25519", "-selector", "next", "example.org"); code != 0 || !strings.Contains(out, "next._domainkey.example.org.") {
		t.Errorf("keygen -selector: %d %q", code, out)
	}
	if code, _, _ := runCLI(t, "", "dkim", "keygen", dd, "-selector", "x", "example.org"); code != 2 {
		t.Errorf("-selector without -algorithm: exit %d, want 2", code)
	}
	if code, _, _ := runCLI(t, "", "dkim", "keygen", dd, "-algorithm", "dsa", "example.org"); code != 2 {
		t.Errorf("-algorithm dsa: exit %d, want 2", code)
	}
	code, out, _ = runCLI(t, "", "dkim", "list", dd)
	if code != 0 || strings.Count(out, "example.org\t") != 3 || !strings.Contains(out, "example.org\tnext\ted25519") {
		t.Errorf("list: %d %q", code, out)
	}
	fi, err := os.Stat(filepath.Join(data, "dkim", "example.org", "next.pem"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", fi, err)
	}
	if code, out, _ := runCLI(t, "", "dkim", "rm", dd, "example.org", "next"); code != 0 || !strings.Contains(out, "removed key next") {
		t.Errorf("rm: %d %q", code, out)
	}
	if code, _, errs := runCLI(t, "", "dkim", "rm", dd, "example.org", "next"); code != 1 || !strings.Contains(errs, "no key next") {
		t.Errorf("second rm: %d %q", code, errs)
	}
	if _, out, _ := runCLI(t, "", "dkim", "list", dd); strings.Count(out, "example.org\t") != 2 {
		t.Errorf("list after rm: %q", out)
	}
}

// cliStep is one command of a scripted CLI session: its exit code and a
// part of its output (of stderr when it fails); want "" means no output.
type cliStep struct {
	args []string
	code int
	want string
}

// runSteps runs the steps in order and reports every mismatch.
func runSteps(t *testing.T, steps []cliStep) {
	t.Helper()
	for _, s := range steps {
		code, out, errOut := runCLI(t, "", s.args...)
		got := out
		if code != 0 {
			got = errOut
		}
		if code != s.code || !strings.Contains(got, s.want) || s.want == "" && got != "" {
			t.Errorf("%v: code %d, out %q, err %q; want code %d and %q", s.args, code, out, errOut, s.code, s.want)
		}
	}
}
