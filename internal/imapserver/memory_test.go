package imapserver

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// idleClients opens N connections (implicit TLS when a CA file is
// given), logs each in, SELECTs INBOX and enters IDLE, prints "ready"
// and keeps them until stdin closes. It runs as another process so that
// only the server's memory is counted here.
const idleClients = `
import resource, socket, ssl, sys
host, port, n, user, pw, ca = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 100), hard))
ctx = None
if ca:
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
conns = []
def expect(f, prefix):
    l = f.readline()
    if not l.startswith(prefix):
        raise Exception("got %r, want %r" % (l, prefix))
for i in range(n):
    s = socket.create_connection((host, port))
    if ctx:
        s = ctx.wrap_socket(s, server_hostname="imap.test")
    f = s.makefile("rb")
    expect(f, b"* OK")
    s.sendall(b'a LOGIN "%s" "%s"\r\nb SELECT INBOX\r\nc IDLE\r\n' % (user.encode(), pw.encode()))
    expect(f, b"a OK")
    while True:
        l = f.readline()
        if l.startswith(b"+ idling"):
            break
        if l.startswith(b"b BAD"):
            raise Exception(l)
    conns.append((s, f))
print("ready", flush=True)
sys.stdin.read()
`

// BenchmarkIdleConnectionMemory opens 1,000 IDLE connections from a
// Python process and reports the server's heap and stack growth and its
// RSS growth per connection, in plain text and over TLS. It measures; it
// asserts no figure (the target is under 30 KiB per IDLE connection).
//
//	go test -run XXX -bench IdleConnectionMemory ./internal/imapserver/
func BenchmarkIdleConnectionMemory(b *testing.B) {
	py, err := exec.LookPath("python3")
	if err != nil {
		b.Skip("python3 not installed")
	}
	const n = 1000
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < 2*n+200 {
		lim.Cur = min(lim.Max, 2*n+200)
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	for _, mode := range []string{"plain", "tls"} {
		b.Run(mode, func(b *testing.B) {
			e := newEnv(b)
			opts := Options{AllowPlaintextAuth: true, MaxConnectionsPerIP: -1, MaxConnectionsPerAccount: -1, MaxConnections: -1}
			caFile := ""
			if mode == "tls" {
				srvTLS, _ := testTLS(b)
				opts.TLSConfig, opts.ImplicitTLS = srvTLS, true
				caFile = filepath.Join(b.TempDir(), "ca.pem")
				var pemBytes bytes.Buffer
				leaf, err := x509.ParseCertificate(srvTLS.Certificates[0].Certificate[0])
				if err != nil {
					b.Fatal(err)
				}
				pem.Encode(&pemBytes, &pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})
				if err := os.WriteFile(caFile, pemBytes.Bytes(), 0o600); err != nil {
					b.Fatal(err)
				}
			}
			_, addr := e.start(b, opts)
			host, port, _ := strings.Cut(addr, ":")
			heap0, stack0, rss0 := memNow()
			cmd := exec.Command(py, "-c", idleClients, host, port, strconv.Itoa(n), alice, alicePW, caFile)
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			defer func() {
				stdin.Close()
				cmd.Wait()
			}()
			ready := make(chan string, 1)
			go func() {
				l, _ := bufio.NewReader(stdout).ReadString('\n')
				ready <- l
			}()
			select {
			case l := <-ready:
				if !strings.HasPrefix(l, "ready") {
					b.Fatalf("clients: %q", l)
				}
			case <-time.After(5 * time.Minute):
				b.Fatal("clients not ready after 5 minutes")
			}
			heap1, stack1, rss1 := memNow()
			if dir := os.Getenv("IDLEMEM_PROFILE_DIR"); dir != "" {
				writeProfiles(b, dir, mode)
			}
			b.ReportMetric(float64(heap1-heap0)/n, "heap-B/conn")
			b.ReportMetric(float64(stack1-stack0)/n, "stack-B/conn")
			b.ReportMetric(float64(heap1+stack1-heap0-stack0)/n, "B/conn")
			b.ReportMetric(float64(rss1-rss0)/n, "rss-B/conn")
		})
	}
}

// writeProfiles writes the heap profile (go tool pprof
// -sample_index=inuse_space) and the goroutine stacks with the
// connections open, for IDLEMEM_PROFILE_DIR.
func writeProfiles(b *testing.B, dir, mode string) {
	for _, name := range []string{"heap", "goroutine"} {
		f, err := os.Create(filepath.Join(dir, mode+"."+name))
		if err != nil {
			b.Fatal(err)
		}
		debug := 0
		if name == "goroutine" {
			debug = 1
		}
		pprof.Lookup(name).WriteTo(f, debug)
		f.Close()
	}
}

// memNow returns the live heap, the goroutine stacks and the RSS, after
// a collection that returns free memory to the OS.
func memNow() (heap, stack, rss int64) {
	runtime.GC()
	debug.FreeOSMemory() // a GC, and the freed pages back to the OS, so RSS compares
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for l := range strings.Lines(string(b)) {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				rss = kb << 10
			}
		}
	}
	return int64(ms.HeapAlloc), int64(ms.StackInuse), rss
}
