package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// ACME against Debian's pebble, a test CA, on loopback:
// pebble-challtestsrv answers every DNS name with 127.0.0.1, and pebble
// validates TLS-ALPN-01 on one port and HTTP-01 on another, both ours.

const acmeHost = "mail.example.test"

func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI: %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
	return p
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs a process until the test ends.
func start(t *testing.T, env []string, name string, args ...string) *lockedBuffer {
	t.Helper()
	out := &lockedBuffer{}
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return out
}

// pebbleCA is a running pebble with its challenge ports.
type pebbleCA struct {
	dirURL    string
	mgmtURL   string
	client    *http.Client // trusts pebble's own TLS certificate
	httpPort  int          // where pebble's VA sends HTTP-01 requests
	tlsPort   int          // where it makes TLS-ALPN-01 connections
	validity  time.Duration
	pebbleOut *lockedBuffer
}

func startPebble(t *testing.T, validity time.Duration) *pebbleCA {
	t.Helper()
	pebble := lookTool(t, "pebble")
	chall := lookTool(t, "pebble-challtestsrv")
	dir := t.TempDir()

	dnsPort, mgmtChall := freePort(t), freePort(t)
	start(t, nil, chall, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-dns01", "127.0.0.1:"+strconv.Itoa(dnsPort), "-management", "127.0.0.1:"+strconv.Itoa(mgmtChall),
		"-http01", "", "-https01", "", "-tlsalpn01", "")

	// pebble's own HTTPS certificate, from a throwaway CA we trust.
	files, err := EnsureDev(filepath.Join(dir, "tls"), []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	p := &pebbleCA{httpPort: freePort(t), tlsPort: freePort(t), validity: validity}
	listen, mgmt := freePort(t), freePort(t)
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  "127.0.0.1:" + strconv.Itoa(listen),
		"managementListenAddress":        "127.0.0.1:" + strconv.Itoa(mgmt),
		"certificate":                    files.CertFile,
		"privateKey":                     files.KeyFile,
		"httpPort":                       p.httpPort,
		"tlsPort":                        p.tlsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"certificateValidityPeriod":      int(validity.Seconds()),
	}}
	b, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	p.pebbleOut = start(t, []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"},
		pebble, "-config", cfgFile, "-dnsserver", "127.0.0.1:"+strconv.Itoa(dnsPort))

	ca, err := os.ReadFile(files.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	p.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	p.dirURL = fmt.Sprintf("https://127.0.0.1:%d/dir", listen)
	p.mgmtURL = fmt.Sprintf("https://127.0.0.1:%d", mgmt)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := p.client.Get(p.dirURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble not ready after 20s: %v\n%s", err, p.pebbleOut)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// roots returns pebble's issuing root, to verify the chains it issued.
func (p *pebbleCA) roots(t *testing.T) *x509.CertPool {
	t.Helper()
	resp, err := p.client.Get(p.mgmtURL + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("pebble root: %d %v", resp.StatusCode, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("pebble root is not PEM: %q", b)
	}
	return pool
}

// serveChallenges runs the challenge responders pebble connects to.
func serveChallenges(t *testing.T, m *Manager, p *pebbleCA, alpn, http01 bool) {
	t.Helper()
	if alpn {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p.tlsPort))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go m.ServeALPN(l)
	}
	if http01 {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p.httpPort))
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: m.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
	}
}

// dialChain connects to a TLS listener serving m as a mail client would
// and returns the verified chain's leaf.
func dialChain(t *testing.T, addr, sni string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: sni, RootCAs: roots})
	if err != nil {
		t.Fatalf("TLS to %s as %q: %v", addr, sni, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}

// serveMail serves m's ServerConfig on a loopback port, as the 465
// listener does, answering each connection after its handshake.
func serveMail(t *testing.T, m *Manager) string {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", m.ServerConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if c.(*tls.Conn).Handshake() == nil {
					io.WriteString(c, "220 "+acmeHost+" ESMTP\r\n")
				}
				c.Close()
			}()
		}
	}()
	return l.Addr().String()
}

func TestACMEPebble(t *testing.T) {
	for _, tc := range []struct {
		name         string
		alpn, http01 bool
	}{
		{"tls-alpn-01", true, false},
		{"http-01", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startPebble(t, 90*24*time.Hour)
			m, err := New(Options{ACME: &ACMEOptions{
				Hostnames: []string{acmeHost}, Email: "postmaster@example.test",
				DirectoryURL: p.dirURL, CacheDir: filepath.Join(t.TempDir(), "acme"), HTTPClient: p.client,
			}})
			if err != nil {
				t.Fatal(err)
			}
			serveChallenges(t, m, p, tc.alpn, tc.http01)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := m.Obtain(ctx); err != nil {
				t.Fatalf("Obtain: %v\npebble:\n%s", err, p.pebbleOut)
			}
			addr := serveMail(t, m)
			roots := p.roots(t)
			leaf := dialChain(t, addr, acmeHost, roots)
			if err := leaf.VerifyHostname(acmeHost); err != nil {
				t.Error(err)
			}
			// Without SNI (an SMTP client dialing by address) the same
			// certificate comes back.
			c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ConnectionState().PeerCertificates[0]; !got.Equal(leaf) {
				t.Error("no-SNI client got another certificate")
			}
			c.Close()
		})
	}
}

// TestACMERenewal: with short-lived certificates the served certificate
// is replaced before it expires, without a restart.
func TestACMERenewal(t *testing.T) {
	p := startPebble(t, 40*time.Second)
	m, err := New(Options{ACME: &ACMEOptions{
		Hostnames: []string{acmeHost}, DirectoryURL: p.dirURL, CacheDir: filepath.Join(t.TempDir(), "acme"),
		HTTPClient: p.client, RenewBefore: 30 * time.Second,
	}})
	if err != nil {
		t.Fatal(err)
	}
	serveChallenges(t, m, p, true, true)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := m.Obtain(ctx); err != nil {
		t.Fatalf("Obtain: %v\npebble:\n%s", err, p.pebbleOut)
	}
	addr := serveMail(t, m)
	roots := p.roots(t)
	first := dialChain(t, addr, acmeHost, roots)
	deadline := time.Now().Add(45 * time.Second)
	for {
		leaf := dialChain(t, addr, acmeHost, roots)
		if leaf.SerialNumber.Cmp(first.SerialNumber) != 0 {
			if !leaf.NotAfter.After(first.NotAfter) {
				t.Errorf("renewed certificate expires %v, not after the first's %v", leaf.NotAfter, first.NotAfter)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("certificate (valid until %v) not renewed within 45s\npebble:\n%s", first.NotAfter, p.pebbleOut)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
