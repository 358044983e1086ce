package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func equalConfig(a, b *Config) bool { return reflect.DeepEqual(a, b) }

func TestDefaultsSane(t *testing.T) {
	c := Default()
	c.Hostname = "mail.example.com" // the test machine's name may not be a FQDN
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	l := c.Limits.SMTP
	switch {
	case len(c.Listeners) != 1 || c.Listeners[0] != (Listener{Role: RoleSMTP, Address: ":25"}):
		t.Errorf("listeners = %+v, want one smtp on :25", c.Listeners)
	case c.TLS.MinTLSVersion() != tls.VersionTLS12:
		t.Errorf("TLS minimum %x, want 1.2", c.TLS.MinTLSVersion())
	case c.Log.SlogLevel() != slog.LevelInfo || c.Log.Format != "text":
		t.Errorf("log = %+v", c.Log)
	case l.MaxMessageSize.Int64() != 50<<20:
		t.Errorf("max_message_size = %d", l.MaxMessageSize)
	case l.MaxLineLength < 1000 || l.MaxRecipients < 100:
		t.Errorf("limits below RFC 5321 minimums: %+v", l)
	case l.CommandTimeout.D() < 5*time.Minute || l.DataBlockTimeout.D() < 3*time.Minute || l.DataTotalTimeout.D() < 10*time.Minute:
		t.Errorf("timeouts below RFC 5321 §4.5.3.2: %+v", l)
	case l.MaxConnectionsPerIP > l.MaxConnections || l.ShutdownGrace.D() <= 0 || l.MaxErrors < 1:
		t.Errorf("limits = %+v", l)
	case c.SubaddressSeparator != "+" || c.DataDir != "/var/lib/posthorn":
		t.Errorf("top level = %+v", c)
	}
	// Each call returns a fresh value: changing one leaves the next alone.
	c.Listeners[0].Address = ":2525"
	if Default().Listeners[0].Address != ":25" {
		t.Error("Default shares state between calls")
	}
}

func TestDefaultHostname(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	if got := Default().Hostname; got != host {
		t.Errorf("Default().Hostname = %q, want os.Hostname() %q", got, host)
	}
}

// TestValidateKeys checks Validate alone: keys, no file or line.
func TestValidateKeys(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		want   string // "" for valid
	}{
		{"valid", func(c *Config) {}, ""},
		{"hostname empty", func(c *Config) { c.Hostname = "" }, "hostname: empty"},
		{"hostname single label", func(c *Config) { c.Hostname = "mail" }, `hostname: "mail": not a fully qualified domain name`},
		{"hostname IP", func(c *Config) { c.Hostname = "192.0.2.1" }, `hostname: "192.0.2.1": an IP address`},
		{"hostname unicode", func(c *Config) { c.Hostname = "mail.bücher.example" }, ""},
		{"data_dir empty", func(c *Config) { c.DataDir = "" }, "data_dir: empty"},
		{"separator off", func(c *Config) { c.SubaddressSeparator = "" }, ""},
		{"separator long", func(c *Config) { c.SubaddressSeparator = "+-" }, `subaddress_separator: "+-": more than one character`},
		{"no listeners", func(c *Config) { c.Listeners = nil }, "listeners: no listeners"},
		{"role missing", func(c *Config) { c.Listeners[0].Role = "" }, "listeners[0].role: missing"},
		{"port 0 twice", func(c *Config) {
			c.Listeners = []Listener{{RoleSMTP, "127.0.0.1:0", false}, {RoleSubmission, "127.0.0.1:0", false}}
		}, ""},
		{"wildcards clash", func(c *Config) {
			c.Listeners = []Listener{{RoleSMTP, "[::]:25", false}, {RoleSubmission, "0.0.0.0:25", false}}
		}, `listeners[1].address: "0.0.0.0:25": already used by listeners[0]`},
		{"negative port", func(c *Config) { c.Listeners[0].Address = ":-1" }, "port out of range"},
		{"bad host", func(c *Config) { c.Listeners[0].Address = "bad host:25" }, "neither an IP address nor a name"},
		{"all roles", func(c *Config) {
			c.Listeners = nil
			for i, r := range Roles() {
				if !(Listener{Role: r}).ImplicitTLS() {
					c.Listeners = append(c.Listeners, Listener{Role: r, Address: fmt.Sprintf("127.0.0.1:%d", 1000+i)})
				}
			}
		}, ""},
		{"per-ip above total", func(c *Config) { c.Limits.SMTP.MaxConnectionsPerIP = 501 }, "limits.smtp.max_connections_per_ip: 501: more than max_connections (500)"},
		{"zero timeout", func(c *Config) { c.Limits.SMTP.CommandTimeout = Duration{} }, "limits.smtp.command_timeout: 0s: must be positive"},
		{"no grace", func(c *Config) { c.Limits.SMTP.ShutdownGrace = Duration{} }, ""},
		{"pop3 lease under a second", func(c *Config) { c.Limits.POP3.MaildropLease = NewDuration(500 * time.Millisecond) }, "limits.pop3.maildrop_lease: 500ms: shorter than a second"},
		{"pop3 no lease", func(c *Config) { c.Limits.POP3.MaildropLease = Duration{} }, "limits.pop3.maildrop_lease: 0s: must be positive"},
		{"min_version 1.3", func(c *Config) { c.TLS.MinVersion = "1.3" }, ""},
		{"delivery source not IP", func(c *Config) { c.Delivery.SourceAddress = "mail.example.com" }, `delivery.source_address: "mail.example.com": not an IP address`},
		{"delivery port", func(c *Config) { c.Delivery.Port = 0 }, "delivery.port: 0: out of range"},
		{"delivery retry order", func(c *Config) { c.Delivery.RetryMax = NewDuration(time.Minute) }, "delivery.retry_max: 1m: shorter than retry_min (5m)"},
		{"delivery no warning", func(c *Config) { c.Delivery.DelayWarning = Duration{} }, ""},
		{"delivery short lease", func(c *Config) { c.Delivery.Lease = NewDuration(time.Millisecond) }, "delivery.lease: 1ms: too short to renew"},
		{"node with a space", func(c *Config) { c.Node = "node 1" }, `node: "node 1": not a node name`},
		{"delivery short attempt", func(c *Config) { c.Delivery.AttemptTimeout = NewDuration(time.Second) }, "delivery.attempt_timeout: 1s: too short"},
		{"delivery routes", func(c *Config) {
			c.Delivery.Routes = []DeliveryRoute{{Domain: "*", Host: "smtp.example.net:587", Username: "u", Password: "p"}, {Domain: "example.org", Host: "192.0.2.7"}}
		}, ""},
		{"delivery route twice", func(c *Config) {
			c.Delivery.Routes = []DeliveryRoute{{Domain: "Example.org", Host: "a.example.net"}, {Domain: "example.org", Host: "b.example.net"}}
		}, `delivery.routes[1].domain: "example.org": already routed by routes[0]`},
		{"delivery route bad host", func(c *Config) { c.Delivery.Routes = []DeliveryRoute{{Domain: "*", Host: "a.example:99999"}} }, `delivery.routes[0].host: "a.example:99999": not host:port`},
		{"delivery route user only", func(c *Config) { c.Delivery.Routes = []DeliveryRoute{{Domain: "*", Host: "a.example", Username: "u"}} }, "delivery.routes[0].password: username and password go together"},
		{"sendmail socket", func(c *Config) { c.Sendmail.Socket = "/run/posthorn/sendmail.sock" }, ""},
		{"store postgres", func(c *Config) { c.Store = Store{Backend: StorePostgres, DSNFile: "/run/secrets/dsn"} }, ""},
		{"store postgres from env", func(c *Config) { c.Store = Store{Backend: StorePostgres} }, ""},
		{"store unknown", func(c *Config) { c.Store.Backend = "mysql" }, `store.backend: "mysql" is not a store backend`},
		{"store dsn with sqlite", func(c *Config) { c.Store.DSN = "postgres://db/mail" }, `store.dsn: set, but backend is "sqlite"`},
		{"store dsn twice", func(c *Config) {
			c.Store = Store{Backend: StorePostgres, DSN: "postgres://db/mail", DSNFile: "/run/secrets/dsn"}
		}, "store.dsn_file: set together with dsn"},
		{"sendmail socket relative", func(c *Config) { c.Sendmail.Socket = "sendmail.sock" }, `sendmail.socket: "sendmail.sock" is not an absolute path`},
		{"sendmail socket too long", func(c *Config) { c.Sendmail.Socket = "/" + strings.Repeat("d", 110) }, "sendmail.socket: path is 111 bytes long, more than the 107"},
		{"proxy_protocol without trusted", func(c *Config) { c.Listeners[0].ProxyProtocol = true }, "listeners[0].proxy_protocol: set, but proxy.trusted_networks is empty"},
		{"proxy_protocol trusted", func(c *Config) {
			c.Listeners[0].ProxyProtocol = true
			c.Proxy.TrustedNetworks = []string{"10.0.0.0/8", "192.0.2.7"}
		}, ""},
		{"proxy trusted junk", func(c *Config) { c.Proxy.TrustedNetworks = []string{"10.0.0.0/33"} }, `proxy.trusted_networks[0]: "10.0.0.0/33": not a network`},
		{"proxy trusts everyone", func(c *Config) { c.Proxy.TrustedNetworks = []string{"10.0.0.1", "::/0"} }, `proxy.trusted_networks[1]: "::/0": every address`},
		{"proxy header_timeout zero", func(c *Config) { c.Proxy.HeaderTimeout = Duration{} }, "proxy.header_timeout: 0s: must be positive"},
		{"min_version 1.1", func(c *Config) { c.TLS.MinVersion = "1.1" }, `tls.min_version: "1.1": TLS older than 1.2`},
		{"min_version junk", func(c *Config) { c.TLS.MinVersion = "TLS1.2" }, `tls.min_version: "TLS1.2": unknown TLS version`},
		{"key without cert", func(c *Config) { c.TLS.KeyFile = "k.pem" }, "tls.cert_file: missing while tls.key_file is set"},
		{"cert is a device", func(c *Config) { c.TLS.CertFile, c.TLS.KeyFile = os.DevNull, os.DevNull }, `tls.cert_file: "/dev/null": not a regular file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Hostname = "mail.example.com"
			tt.change(c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && err == nil:
				t.Errorf("no error, want %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// writeKeyPair writes a self-signed certificate and its key to dir.
func writeKeyPair(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mail.example.com"},
		DNSNames:     []string{"mail.example.com"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+"-cert.pem"), filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestTLSKeyPair(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeKeyPair(t, dir, "a")
	_, otherKey := writeKeyPair(t, dir, "b")
	doc := func(cert, key string) []byte {
		return fmt.Appendf(nil, "hostname = \"mail.example.com\"\n\n[[listeners]]\nrole = \"submissions\"\naddress = \":465\"\n\n[tls]\ncert_file = %q\nkey_file = %q\n", cert, key)
	}

	c, err := Parse("posthorn.toml", doc(cert, key))
	if err != nil {
		t.Fatalf("valid key pair: %v", err)
	}
	if !c.TLS.Enabled() || c.TLS.CertFile != cert {
		t.Errorf("tls = %+v", c.TLS)
	}

	_, err = Parse("posthorn.toml", doc(cert, otherKey))
	if err == nil || !strings.Contains(err.Error(), "posthorn.toml:8: tls.cert_file: ") || !strings.Contains(err.Error(), "private key does not match public key") {
		t.Errorf("mismatched key pair: got %v", err)
	}

	_, err = Parse("posthorn.toml", doc(key, key))
	if err == nil || !strings.Contains(err.Error(), "posthorn.toml:8: tls.cert_file: ") {
		t.Errorf("key as certificate: got %v", err)
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "p.toml", Line: 3, Key: "k", Msg: "bad", Hint: "fix"}, "p.toml:3: k: bad (hint: fix)"},
		{Error{File: "p.toml", Key: "k", Msg: "bad"}, "p.toml: k: bad"},
		{Error{Msg: "bad"}, "bad"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	list := ErrorList{&tt0, &tt1}
	if got := list.Error(); got != "a\nb" {
		t.Errorf("list: got %q", got)
	}
	var e *Error
	if !errors.As(error(list), &e) || e != &tt0 {
		t.Error("errors.As does not reach the first *Error")
	}
}

var tt0, tt1 = Error{Msg: "a"}, Error{Msg: "b"}
