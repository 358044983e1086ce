package sqlite

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/posthorn/posthorn/internal/store"
)

const (
	childPathEnv    = "POSTHORN_SQLITE_TEST_CHILD_DB"
	childAccountEnv = "POSTHORN_SQLITE_TEST_CHILD_ACCOUNT"
	childDeliveries = 100
)

// TestChildProcess is the other process of TestTwoOSProcesses; it does
// nothing when run directly.
func TestChildProcess(t *testing.T) {
	path := os.Getenv(childPathEnv)
	if path == "" {
		t.Skip("helper for TestTwoOSProcesses")
	}
	acct, _ := strconv.ParseInt(os.Getenv(childAccountEnv), 10, 64)
	s := openTest(t, path)
	deliverMany(t, s, acct, childDeliveries)
}

func deliverMany(t *testing.T, s *Store, acct int64, n int) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := s.Deliver(t.Context(), store.Delivery{Body: []byte("x"), Targets: []store.Target{{AccountID: acct}}}); err != nil {
				t.Errorf("Deliver: %v", err)
			}
		})
	}
	wg.Wait()
}

// TestTwoOSProcesses: a second OS process (as the CLI beside a running
// server) delivers into the same file at the same time.
func TestTwoOSProcesses(t *testing.T) {
	if os.Getenv(childPathEnv) != "" {
		t.Skip("in the child")
	}
	path := filepath.Join(t.TempDir(), "db")
	s := openTest(t, path)
	acct := setup(t, s, "a@example.org")[0]

	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), childPathEnv+"="+path, childAccountEnv+"="+strconv.FormatInt(acct.ID, 10))
	var out []byte
	var cmdErr error
	done := make(chan struct{})
	go func() {
		out, cmdErr = cmd.CombinedOutput()
		close(done)
	}()
	deliverMany(t, s, acct.ID, childDeliveries)
	<-done
	if cmdErr != nil {
		t.Fatalf("child: %v\n%s", cmdErr, out)
	}
	inbox, err := s.Mailbox(t.Context(), acct.ID, store.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.MailboxStatus(t.Context(), inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Messages != 2*childDeliveries || st.UIDNext != 2*childDeliveries+1 {
		t.Errorf("status %+v, want %d messages with dense UIDs", st, 2*childDeliveries)
	}
}
