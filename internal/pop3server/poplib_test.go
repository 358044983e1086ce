package pop3server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// poplibResult is what testdata/poplib_client.py prints.
type poplibResult struct {
	Welcome string   `json:"welcome"`
	Capa    []string `json:"capa"`
	Stat    []int64  `json:"stat"`
	List    []string `json:"list"`
	UIDL    []string `json:"uidl"`
	Msgs    []struct {
		Resp   string `json:"resp"`
		Octets int64  `json:"octets"`
		Data   string `json:"data"`
	} `json:"msgs"`
	Top  string `json:"top"`
	Quit string `json:"quit"`
}

func runPoplib(t *testing.T, addr, mode, caFile string, dele ...string) poplibResult {
	t.Helper()
	py := tools.Look(t, "python3")
	host, port, _ := net.SplitHostPort(addr)
	args := append([]string{"testdata/poplib_client.py", host, port, alice, alicePW, mode, caFile}, dele...)
	cmd := exec.Command(py, args...)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("poplib (%s): %v\n%s", mode, err, stderr)
	}
	var res poplibResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("poplib output %q: %v", out, err)
	}
	return res
}

// Python's poplib against the server in plain text (loopback allowed),
// after STLS and with implicit TLS; message bytes and octet counts checked.
func TestPoplib(t *testing.T) {
	bodies := []string{msg1, msg2, msg3}
	for _, mode := range []string{"plain", "stls", "ssl"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			uidl := e.fill(t)
			srvTLS, _, caFile := testTLS(t)
			opts := Options{TLSConfig: srvTLS}
			switch mode {
			case "plain":
				opts = Options{AllowPlaintextAuth: true}
				caFile = ""
			case "ssl":
				opts.ImplicitTLS = true
			}
			_, addr := e.start(t, opts)
			res := runPoplib(t, addr, mode, caFile, "2")

			total := int64(len(msg1) + len(msg2) + len(msg3))
			if !slices.Equal(res.Stat, []int64{3, total}) {
				t.Errorf("stat = %v, want [3 %d]", res.Stat, total)
			}
			for _, c := range []string{"TOP", "UIDL", "USER", "SASL", "RESP-CODES", "PIPELINING", "EXPIRE"} {
				if !slices.Contains(res.Capa, c) {
					t.Errorf("capa %v lacks %s", res.Capa, c)
				}
			}
			if len(res.Msgs) != 3 {
				t.Fatalf("got %d messages, want 3", len(res.Msgs))
			}
			for i, m := range res.Msgs {
				data, err := base64.StdEncoding.DecodeString(m.Data)
				if err != nil {
					t.Fatal(err)
				}
				if string(data) != bodies[i] {
					t.Errorf("message %d: got %q, want %q", i+1, data, bodies[i])
				}
				if m.Octets != int64(len(bodies[i])) {
					t.Errorf("message %d: poplib counted %d octets, want %d", i+1, m.Octets, len(bodies[i]))
				}
				if want := fmt.Sprintf("%d %d", i+1, len(bodies[i])); res.List[i] != want {
					t.Errorf("list[%d] = %q, want %q", i, res.List[i], want)
				}
				if want := fmt.Sprintf("+OK %d octets", len(bodies[i])); m.Resp != want {
					t.Errorf("RETR %d answered %q, want %q", i+1, m.Resp, want)
				}
				if want := fmt.Sprintf("%d %s", i+1, uidl[i]); res.UIDL[i] != want {
					t.Errorf("uidl[%d] = %q, want %q", i, res.UIDL[i], want)
				}
			}
			top, _ := base64.StdEncoding.DecodeString(res.Top)
			if want := msg1[:strings.Index(msg1, "\r\n\r\n")+4]; string(top) != want {
				t.Errorf("top 1 0 = %q, want %q", top, want)
			}
			if !strings.HasPrefix(res.Quit, "+OK") {
				t.Errorf("quit: %q", res.Quit)
			}
			if got := e.inbox(t, e.alice); !slices.Equal(got, []string{msg1, msg3}) {
				t.Errorf("INBOX after poplib deleted message 2: %q", got)
			}
		})
	}
}
