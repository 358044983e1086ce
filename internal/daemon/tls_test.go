package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/certs"
	"github.com/posthorn/posthorn/internal/certs/certstest"
	"github.com/posthorn/posthorn/internal/config"
)

// TestSubmissionNeedsTLS: a submission listener without a certificate is
// a start-up error, since logins are only taken over TLS.
func TestSubmissionNeedsTLS(t *testing.T) {
	cfg, err := config.Parse("test.toml", []byte(fmt.Sprintf(`hostname = "mx.example.org"
data_dir = %q
[[listeners]]
role = "submission"
address = "127.0.0.1:0"
`, t.TempDir())))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Start(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "needs a certificate") {
		t.Fatalf("Start with submission and no TLS: %v", err)
	}
}

// TestSIGHUPReloadsCertificates: replacing the certificate files and
// sending SIGHUP changes what the 465 listener serves, without a restart.
func TestSIGHUPReloadsCertificates(t *testing.T) {
	dir := t.TempDir()
	files := certstest.Dev(t, filepath.Join(dir, "tls"), []string{"mx.example.org"}, net.ParseIP("127.0.0.1"))
	d := startConfig(t, fmt.Sprintf(`hostname = "mx.example.org"
data_dir = %q
[[listeners]]
role = "submissions"
address = "127.0.0.1:0"
[tls]
cert_file = %q
key_file = %q
`, filepath.Join(dir, "data"), files.CertFile, files.KeyFile), slog.New(slog.DiscardHandler))
	addr := d.Addrs()["submissions"].String()
	ca, _ := os.ReadFile(files.CAFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	leaf := func() *x509.Certificate {
		t.Helper()
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{RootCAs: pool, ServerName: "mx.example.org"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0]
	}
	first := leaf()
	// A new certificate for another name set, from the same CA.
	if _, err := certs.EnsureDev(filepath.Join(dir, "tls"), []string{"mx.example.org", "smtp.example.org"}, []net.IP{net.ParseIP("127.0.0.1")}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for leaf().Equal(first) {
		if time.Now().After(deadline) {
			t.Fatal("certificate not reloaded 10s after SIGHUP")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
