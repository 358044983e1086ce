// Package pebbletest runs Debian's pebble, a test ACME certificate
// authority (RFC 8555), on loopback for tests: pebble-challtestsrv answers
// every DNS name with 127.0.0.1, and pebble validates TLS-ALPN-01 and
// HTTP-01 challenges on two ports the test serves. A missing pebble skips
// the test, except under CI=true, where it fails.
package pebbletest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/testutil/syncbuf"
	"github.com/posthorn/posthorn/internal/testutil/tools"
)

// CA is a running pebble.
type CA struct {
	// DirURL is the ACME directory.
	DirURL string
	// CAFile is a PEM file with the root of pebble's own HTTPS
	// certificate; Client trusts it.
	CAFile string
	Client *http.Client
	// HTTPPort is where pebble sends HTTP-01 requests, TLSPort where it
	// makes TLS-ALPN-01 connections (both on 127.0.0.1).
	HTTPPort, TLSPort int

	mgmtURL string
	out     *syncbuf.Buffer
}

// Start runs pebble-challtestsrv and pebble until the test ends. Issued
// certificates are valid for validity.
func Start(t testing.TB, validity time.Duration) *CA {
	t.Helper()
	pebble := tools.Look(t, "pebble")
	chall := tools.Look(t, "pebble-challtestsrv")
	dir := t.TempDir()

	dnsPort, mgmtChall := FreePort(t), FreePort(t)
	start(t, nil, chall, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-dns01", "127.0.0.1:"+strconv.Itoa(dnsPort), "-management", "127.0.0.1:"+strconv.Itoa(mgmtChall),
		"-http01", "", "-https01", "", "-tlsalpn01", "")

	ca := &CA{HTTPPort: FreePort(t), TLSPort: FreePort(t), CAFile: filepath.Join(dir, "pebble-https-ca.pem")}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool := selfSigned(t, certFile, keyFile, ca.CAFile)
	listen, mgmt := FreePort(t), FreePort(t)
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  "127.0.0.1:" + strconv.Itoa(listen),
		"managementListenAddress":        "127.0.0.1:" + strconv.Itoa(mgmt),
		"certificate":                    certFile,
		"privateKey":                     keyFile,
		"httpPort":                       ca.HTTPPort,
		"tlsPort":                        ca.TLSPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"certificateValidityPeriod":      int(validity.Seconds()),
	}}
	b, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ca.out = start(t, []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"},
		pebble, "-config", cfgFile, "-dnsserver", "127.0.0.1:"+strconv.Itoa(dnsPort))

	ca.Client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	ca.DirURL = fmt.Sprintf("https://127.0.0.1:%d/dir", listen)
	ca.mgmtURL = fmt.Sprintf("https://127.0.0.1:%d", mgmt)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := ca.Client.Get(ca.DirURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return ca
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble not ready after 20s: %v\n%s", err, ca.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Output is what pebble logged so far, for failure messages.
func (ca *CA) Output() string { return ca.out.String() }

// Roots returns pebble's issuing root, to verify the chains it issued.
func (ca *CA) Roots(t testing.TB) *x509.CertPool {
	t.Helper()
	resp, err := ca.Client.Get(ca.mgmtURL + "/roots/0")
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

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// selfSigned writes a certificate for 127.0.0.1 and localhost (pebble's
// HTTPS listener) and its CA, and returns a pool trusting the CA.
func selfSigned(t testing.TB, certFile, keyFile, caFile string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "pebble test"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for f, b := range map[string][]byte{
		certFile: certPEM, caFile: certPEM,
		keyFile: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}),
	} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return pool
}

// start runs a process until the test ends.
func start(t testing.TB, env []string, name string, args ...string) *syncbuf.Buffer {
	t.Helper()
	out := &syncbuf.Buffer{}
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
