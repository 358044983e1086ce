package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/posthorn/posthorn/internal/delivery/deliverytest"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// readmeShellBlocks returns the ```sh blocks of README.md from the
// heading start to the next heading of any level.
func readmeShellBlocks(t *testing.T, start string) []string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	var block *strings.Builder
	in, fenced := false, false
	for _, line := range strings.Split(string(readme), "\n") {
		switch {
		case strings.HasPrefix(line, "```"):
			if fenced && block != nil {
				blocks = append(blocks, block.String())
				block = nil
			} else if in && line == "```sh" {
				block = &strings.Builder{}
			}
			fenced = !fenced
		case fenced:
			if block != nil {
				block.WriteString(line + "\n")
			}
		case line == start:
			in = true
		case in && strings.HasPrefix(line, "#"):
			return blocks
		}
	}
	if !in {
		t.Fatalf("README has no heading %q", start)
	}
	return blocks
}

// TestREADMEAPIExamples runs the README's curl examples as a reader
// copies them: every sh block of "Sending from your application" and the
// routes example of "Inbound routes", against posthorn serve for
// example.org with delivery off, changing only what the README says to
// change (the API URL, the message id of "m_..."). posthorn and curl are
// on PATH, $POSTHORN_CONFIG names the configuration, and invoice.pdf,
// logo.png and message.eml exist. Each example must exit 0 and answer
// what the README shows, never an error object.
func TestREADMEAPIExamples(t *testing.T) {
	curl := tools.Look(t, "curl")
	sending := readmeShellBlocks(t, "## Sending from your application")
	routes := readmeShellBlocks(t, "### Inbound routes: receive mail in your application")
	if len(sending) < 5 || len(routes) < 2 || !strings.Contains(sending[0], "apikey create") {
		t.Fatalf("README sections changed: %d sending blocks, %d route blocks; update this test", len(sending), len(routes))
	}

	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	os.MkdirAll(work, 0o700)
	for name, content := range map[string]string{
		"invoice.pdf": "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n",
		"logo.png":    "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
		"message.eml": "From: Shop <shop@example.org>\nTo: ann@example.com\nSubject: raw\n\nHello.\n",
	} {
		if err := os.WriteFile(filepath.Join(work, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ip := loopbackIP(t)
	addr := fmt.Sprintf("%s:%d", ip, deliverytest.FreePort(t, ip))
	srv := startServe(t, dir, serveConfig("mail.example.org", filepath.Join(dir, "data"), "http", addr, "127.0.0.1:9")+
		storeTOML(t)+"[delivery]\nenabled = false\n", addr)
	env := append(os.Environ(),
		"PATH="+filepath.Dir(binary)+":"+filepath.Dir(curl)+":"+os.Getenv("PATH"),
		"POSTHORN_CONFIG="+filepath.Join(dir, "posthorn.toml"))
	sh := func(script string) string {
		t.Helper()
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir, cmd.Env = work, env
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Contains(string(out), `"error":`) {
			t.Errorf("README example failed: %v\n%s\noutput:\n%s", err, script, out)
		}
		return string(out)
	}

	// The key as the README makes it; the URL of this server instead of
	// the README's example host.
	out := sh(sending[0] + "\necho \"KEY=$KEY\"")
	key := strings.TrimPrefix(regexp.MustCompile(`(?m)^KEY=ph_[0-9a-z]{52}$`).FindString(out), "KEY=")
	if key == "" {
		t.Fatalf("the README's key command gave %q", out)
	}
	env = append(env, "KEY="+key, "API=http://"+addr+"/api/v1", "POSTHORN_API=http://"+addr)

	var id string
	checked := 0
	for i, b := range sending[1:] {
		if strings.Contains(b, "m_...") {
			b = strings.ReplaceAll(b, "m_...", id)
		}
		out := sh(b)
		checked++
		switch {
		case strings.Contains(b, "Idempotency-Key: order-1042"), strings.Contains(b, "invoice.pdf"), strings.Contains(b, "message/rfc822"):
			if !strings.Contains(out, `"email":"ann@example.com","status":"queued"`) {
				t.Errorf("block %d: %s", i+2, out)
			}
			if id == "" {
				id = regexp.MustCompile(`m_[0-9a-z]+`).FindString(out)
			}
		case strings.Contains(b, "/events?"):
			if !strings.Contains(out, `"id":"`+id+`"`) || !strings.Contains(out, `{"events":`) {
				t.Errorf("status and events block: %s", out)
			}
		case strings.Contains(b, "/suppressions"):
			if !strings.Contains(out, `"address":"ann@example.com"`) || !strings.Contains(out, `"secret":"whsec_`) {
				t.Errorf("suppressions and webhooks block: %s", out)
			}
		default:
			checked--
			t.Errorf("block %d is new to this test; check it here:\n%s", i+2, b)
		}
	}
	if checked != 5 || id == "" {
		t.Errorf("checked %d examples (want 5: JSON, attachment, raw, status and events, suppressions and webhooks), message id %q", checked, id)
	}
	if out := sh(routes[1]); !strings.Contains(out, `"pattern":"reply+*@example.org"`) {
		t.Errorf("routes example: %s", out)
	}
	if err := srv.stop(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
}
