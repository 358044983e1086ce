package cli

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/daemon"
	"github.com/posthorn/posthorn/internal/store"
)

func TestQuotaCommand(t *testing.T) {
	dir := t.TempDir()
	dd := "-data-dir=" + dir
	runCLI(t, "", "domain", "add", dd, "example.org")
	runCLI(t, "", "account", "add", dd, "-generate", "alice@example.org")
	runCLI(t, "", "account", "add", dd, "-generate", "bob@example.org")
	for _, tc := range []struct {
		args []string
		code int
		want string // substring of stdout (code 0) or stderr
	}{
		{[]string{"Alice@example.org", "500M"}, 0, "quota of alice@example.org set to 500MiB"},
		{[]string{"bob@example.org", "2g"}, 0, "set to 2GiB"},
		{[]string{"bob@example.org", "1500"}, 0, "set to 1500B"},
		{[]string{"bob@example.org", "1.5G"}, 1, "invalid size"},
		{[]string{"bob@example.org", "lots"}, 1, "invalid size"},
		{[]string{"bob@example.org", "99999999999T"}, 1, "invalid size"},
		{[]string{"zed@example.org", "1G"}, 1, "no account"},
		{[]string{"bob@example.org"}, 2, "address and a size"},
	} {
		code, out, e := runCLI(t, "", append([]string{"account", "quota", dd}, tc.args...)...)
		got := out
		if code != 0 {
			got = e
		}
		if code != tc.code || !strings.Contains(got, tc.want) {
			t.Errorf("quota %q: exit %d, %q %q; want %d, %q", tc.args, code, out, e, tc.code, tc.want)
		}
	}

	// The store has it; a message counts against it; list shows both.
	st, err := daemon.OpenStore(context.Background(), dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a, err := st.Account(context.Background(), "bob@example.org")
	if err != nil || a.QuotaBytes != 1500 {
		t.Errorf("bob after quota 1500: %+v, %v", a, err)
	}
	_, err = st.Deliver(context.Background(), store.Delivery{Body: make([]byte, 300), Targets: []store.Target{{AccountID: a.ID}}})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, out, _ := runCLI(t, "", "account", "list", dd)
	want := "alice@example.org\tquota 500MiB, used 0B (0%)\nbob@example.org\tquota 1500B, used 300B (20%)\n"
	if out != want {
		t.Errorf("account list = %q, want %q", out, want)
	}
	if code, out, _ := runCLI(t, "", "account", "quota", dd, "alice@example.org", "0"); code != 0 || !strings.Contains(out, "no quota") {
		t.Errorf("quota 0: %d %q", code, out)
	}
	if _, out, _ := runCLI(t, "", "account", "list", dd, "example.org"); !strings.HasPrefix(out, "alice@example.org\nbob@") {
		t.Errorf("account list after quota 0 = %q", out)
	}
}
