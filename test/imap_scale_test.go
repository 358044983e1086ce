package test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDevModeIMAPScale100k: a mailbox of 100,000 messages (filled into the
// stopped server's store by test/scalefill, about 600 bytes each, header
// X-Scale: i, the word posthornneedle in every 1000th body). SELECT,
// FETCH 1:* (FLAGS), UID SEARCH by header and by body text answer
// correctly, and the server's peak RSS stays bounded.
func TestDevModeIMAPScale100k(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 100,000 messages")
	}
	const n = 100000
	dir := filepath.Join(t.TempDir(), "dev")
	addr := loopbackIP(t)
	s := startDev(t, dir, addr)
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("stopping dev mode: %v", err)
	}
	fill := filepath.Join(t.TempDir(), "scalefill")
	if out, err := exec.Command("go", "build", "-o", fill, "./scalefill").CombinedOutput(); err != nil {
		t.Fatalf("building scalefill: %v\n%s", err, out)
	}
	start := time.Now()
	out, err := exec.Command(fill, "-db", filepath.Join(s.info.DataDir, "mail.db"), "-account", s.info.Accounts[0].Address,
		"-mailbox", "scale", "-n", itoa(n)).CombinedOutput()
	if err != nil {
		t.Fatalf("scalefill: %v\n%s", err, out)
	}
	t.Logf("%s (%.1f s with the build)", strings.TrimSpace(string(out)), time.Since(start).Seconds())

	s = startDev(t, dir, addr)
	pid := s.cmd.Process.Pid
	rss0, _ := procMemKiB(t, pid)
	c := dialIMAPS(t, devIMAPTarget(t, s))
	limit := 2 * time.Minute

	t0 := time.Now()
	if got := existsIn(c.mustOK(limit, "SELECT scale")); got != n {
		t.Fatalf("SELECT scale: %d EXISTS, want %d", got, n)
	}
	dSelect := time.Since(t0)

	t0 = time.Now()
	resp := c.mustOK(limit, "FETCH 1:* (FLAGS)")
	dFetch := time.Since(t0)
	fetched := 0
	for _, l := range resp {
		if strings.Contains(l, " FETCH (FLAGS (") {
			fetched++
		}
	}
	if fetched != n {
		t.Fatalf("FETCH 1:* (FLAGS): %d responses, want %d", fetched, n)
	}

	t0 = time.Now()
	hdr := searchUIDs(t, c.mustOK(limit, "UID SEARCH HEADER X-Scale 77777"))
	dHeader := time.Since(t0)
	if len(hdr) != 1 {
		t.Errorf("UID SEARCH HEADER X-Scale 77777 = %v, want one UID", hdr)
	}
	t0 = time.Now()
	body := searchUIDs(t, c.mustOK(limit, "UID SEARCH BODY posthornneedle"))
	dBody := time.Since(t0)
	if len(body) != n/1000 {
		t.Errorf("UID SEARCH BODY posthornneedle: %d UIDs, want %d", len(body), n/1000)
	}
	if len(hdr) == 1 {
		// The matching UID's message must really be number 77777.
		r := c.mustOK(limit, "UID FETCH %s (BODY.PEEK[HEADER.FIELDS (X-SCALE)])", hdr[0])
		if len(r) != 1 || !strings.Contains(r[0], "X-Scale: 77777\r\n") {
			t.Errorf("UID %s is not message 77777: %q", hdr[0], r)
		}
	}
	c.mustOK(limit, "LOGOUT")

	rss, peak := procMemKiB(t, pid)
	t.Logf("100,000 messages: SELECT %v, FETCH 1:* (FLAGS) %v, UID SEARCH HEADER %v, UID SEARCH BODY %v; "+
		"server RSS %d MiB before, %d MiB after, peak %d MiB", dSelect, dFetch, dHeader, dBody, rss0>>10, rss>>10, peak>>10)
	// About 60 MiB of bodies: a server that holds them (or their parsed
	// structures) all at once goes past this.
	if peak > 200<<10 {
		t.Errorf("server peak RSS %d MiB, want under 200 MiB", peak>>10)
	}
	if err := s.stop(syscall.SIGTERM); err != nil {
		t.Errorf("dev mode did not exit cleanly: %v", err)
	}
}

// searchUIDs returns the numbers of the SEARCH response among responses.
func searchUIDs(t *testing.T, responses []string) []string {
	t.Helper()
	for _, l := range responses {
		if rest, ok := strings.CutPrefix(l, "* SEARCH"); ok {
			return strings.Fields(rest)
		}
	}
	t.Fatalf("no SEARCH response in %q", responses)
	return nil
}
