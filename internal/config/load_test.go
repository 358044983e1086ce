package config

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBadConfigs loads each broken file in testdata and wants every listed
// message, with its line, among the errors.
func TestBadConfigs(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"unknown_key.toml", []string{`unknown_key.toml:3: unknown key "hostnme" (hint: did you mean "hostname"?)`}},
		{"unknown_key_nested.toml", []string{
			`unknown_key_nested.toml:5: unknown key "listeners[0].adress" (hint: did you mean "address"?)`,
			`unknown_key_nested.toml:8: unknown key "limits.smtp.max_recipent" (hint: did you mean "max_recipients"?)`,
			`unknown_key_nested.toml:11: unknown key "tls.level" (hint: "level" belongs in [log])`,
			`unknown_key_nested.toml:3: listeners[0].address: missing`,
		}},
		{"unknown_key_inline.toml", []string{`unknown_key_inline.toml:4: unknown key "listeners[1].adress" (hint: did you mean "address"?)`}},
		{"unknown_table.toml", []string{
			`unknown_table.toml:3: unknown key "limits.nntp" (hint: valid keys in [limits]: smtp, pop3, imap)`,
			`unknown_table.toml:6: unknown key "lgo" (hint: did you mean "log"?)`,
		}},
		{"misplaced_key.toml", []string{
			`misplaced_key.toml:3: unknown key "log.hostname" (hint: "hostname" is a top-level key: move it above the first [table] header)`,
			`misplaced_key.toml:4: unknown key "log.max_message_size" (hint: "max_message_size" belongs in [limits.smtp])`,
		}},
		{"bad_type.toml", []string{`bad_type.toml:4: limits.smtp.max_recipients: expected integer, got string (hint: write an integer`}},
		{"bad_type_listener.toml", []string{`bad_type_listener.toml:9: listeners[1].address: expected string, got integer`}},
		{"bad_types_inline.toml", []string{
			`bad_types_inline.toml:2: domains[1]: expected string, got integer`,
			`bad_types_inline.toml:4: listeners[0].address: expected string, got integer`,
			`bad_types_inline.toml:5: listeners[1].proxy_protocol: expected boolean, got string (hint: write true or false)`,
			`bad_types_inline.toml:7: log: expected table, got string (hint: write a [log] table)`,
		}},
		{"listeners_not_array.toml", []string{`listeners_not_array.toml:3: listeners: expected array of tables, got table (hint: write each element as a [[listeners]] table)`}},
		{"tls_array.toml", []string{`tls_array.toml:3: tls: expected table, got array of tables (hint: write a [tls] table)`}},
		{"bad_port.toml", []string{`bad_port.toml:9: listeners[1].address: "127.0.0.1:99999": port out of range 1-65535 (hint: use host:port, e.g. "0.0.0.0:587"`}},
		{"bad_address.toml", []string{
			`bad_address.toml:5: listeners[0].address: "25": not host:port (hint: use host:port`,
			`bad_address.toml:9: listeners[1].address: "localhost:imap": port "imap" is not a number`,
		}},
		{"duplicate_listener.toml", []string{`duplicate_listener.toml:9: listeners[1].address: ":25": already used by listeners[0]`}},
		{"bad_role.toml", []string{`bad_role.toml:4: listeners[1].role: "lmtp": unknown role (hint: use one of "smtp", "submission"`}},
		{"implicit_tls_without_cert.toml", []string{`implicit_tls_without_cert.toml:4: listeners[0].role: "submissions" needs a certificate (hint: set tls.cert_file and tls.key_file)`}},
		{"bad_duration.toml", []string{`bad_duration.toml:4: limits.smtp.command_timeout: invalid duration "5 minutes" (hint: write a duration as a string such as "30s"`}},
		{"bad_duration_integer.toml", []string{`bad_duration_integer.toml:4: limits.smtp.data_block_timeout: expected duration, got integer`}},
		{"bad_size.toml", []string{`bad_size.toml:4: limits.smtp.max_message_size: invalid size "50 megabytes" (hint: write a size as an integer number of bytes or a string such as "50MiB"`}},
		{"small_size.toml", []string{
			`small_size.toml:4: limits.smtp.max_message_size: 1KB: below the RFC 5321 minimum of 64KiB`,
			`small_size.toml:5: limits.smtp.max_line_length: 512: out of range 1000-1048576`,
		}},
		{"bad_log_level.toml", []string{
			`bad_log_level.toml:4: log.level: "verbose": unknown level (hint: use "debug", "info", "warn" or "error")`,
			`bad_log_level.toml:5: log.format: "xml": unknown format`,
		}},
		{"tls_missing_cert.toml", []string{
			`tls_missing_cert.toml:4: tls.cert_file: "testdata/does-not-exist/cert.pem": no such file or directory (hint: check the path`,
			`tls_missing_cert.toml:5: tls.key_file: "testdata/does-not-exist/key.pem": no such file`,
		}},
		{"proxy_without_trusted.toml", []string{`proxy_without_trusted.toml:6: listeners[0].proxy_protocol: set, but proxy.trusted_networks is empty (hint: list the load balancers' addresses`}},
		{"tls_half.toml", []string{`tls_half.toml:3: tls.key_file: missing while tls.cert_file is set (hint: set both cert_file and key_file, or neither)`}},
		{"tls_old_version.toml", []string{`tls_old_version.toml:4: tls.min_version: "1.0": TLS older than 1.2 is insecure and not supported (RFC 8996) (hint: use "1.2" or "1.3")`}},
		{"bad_hostname.toml", []string{
			`bad_hostname.toml:1: hostname: "localhost": not a fully qualified domain name (hint: set hostname = "mail.example.com"`,
			`bad_hostname.toml:2: domains[1]: "not a domain": not a valid domain name`,
			`bad_hostname.toml:2: domains[2]: "EXAMPLE.com": duplicate of domains[0]`,
			`bad_hostname.toml:3: subaddress_separator: "@": not usable in a local part`,
		}},
		{"syntax.toml", []string{`syntax.toml:2: array is incomplete (hint: see https://toml.io`}},
		{"duplicate_key.toml", []string{`duplicate_key.toml:2: hostname: key hostname is already defined (hint: write each key once per table)`}},
		{"many_errors.toml", []string{
			`many_errors.toml:2: unknown key "data_dri" (hint: did you mean "data_dir"?)` + "\n" +
				`testdata/many_errors.toml:6: listeners[0].address: ":99999": port out of range 1-65535 (hint: use host:port, e.g. "0.0.0.0:25" or ":25")` + "\n" +
				`testdata/many_errors.toml:9: limits.smtp.max_errors: 0: must be at least 1 (hint: the default is 10)` + "\n" +
				`testdata/many_errors.toml:12: log.level: "loud": unknown level`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := Load(filepath.Join("testdata", tt.file))
			if err == nil {
				t.Fatalf("Load succeeded, want errors %q", tt.want)
			}
			if c != nil {
				t.Errorf("Load returned a config along with the error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain\n  %s\ngot:\n%v", w, err)
				}
			}
		})
	}
}

// TestErrorsNameFileAndLine checks that every error from every broken file
// in testdata starts with file:line:, except one about the machine's own
// host name, which no line of the file can hold.
func TestErrorsNameFileAndLine(t *testing.T) {
	files, err := filepath.Glob("testdata/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	prefix := regexp.MustCompile(`^testdata/[a-z_]+\.toml:[0-9]+: `)
	for _, f := range files {
		if filepath.Base(f) == "good.toml" {
			continue
		}
		_, err := Load(f)
		var list ErrorList
		if !errors.As(err, &list) {
			t.Errorf("%s: error %v (%T) is not an ErrorList", f, err, err)
			continue
		}
		for _, e := range list {
			if e.Key == "hostname" && e.Line == 0 {
				continue // the default from os.Hostname
			}
			if !prefix.MatchString(e.Error()) {
				t.Errorf("%s: error without file:line: %v", f, e)
			}
			if e.Hint == "" {
				t.Errorf("%s: error without hint: %v", f, e)
			}
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "posthorn.toml"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "posthorn.toml") {
		t.Fatalf("got %v, want a not-exist error naming the file", err)
	}
}

// TestGoodConfig loads a file that sets every key to a non-default value.
func TestGoodConfig(t *testing.T) {
	c, err := Load("testdata/good.toml")
	if err != nil {
		t.Fatal(err)
	}
	l := c.Limits.SMTP
	checks := []struct {
		name      string
		got, want any
	}{
		{"hostname", c.Hostname, "mx.example.org"},
		{"domains", strings.Join(c.Domains, ","), "example.org,example.net"},
		{"data_dir", c.DataDir, "/srv/posthorn"},
		{"subaddress_separator", c.SubaddressSeparator, "-"},
		{"listeners", len(c.Listeners), 4},
		{"listeners[0]", c.Listeners[0], Listener{Role: RoleSMTP, Address: "192.0.2.1:25"}},
		{"listeners[1]", c.Listeners[1], Listener{Role: RoleSubmission, Address: "[2001:db8::1]:587", ProxyProtocol: true}},
		{"listeners[2].role", c.Listeners[2].Role, RoleHTTP},
		{"tls.min_version", c.TLS.MinVersion, "1.3"},
		{"tls enabled", c.TLS.Enabled(), false},
		{"max_line_length", l.MaxLineLength, 2000},
		{"max_message_size", l.MaxMessageSize.Int64(), int64(10_000_000)},
		{"max_recipients", l.MaxRecipients, 500},
		{"max_connections", l.MaxConnections, 50},
		{"max_connections_per_ip", l.MaxConnectionsPerIP, 5},
		{"command_timeout", l.CommandTimeout.D(), time.Minute},
		{"data_block_timeout", l.DataBlockTimeout.D(), 90 * time.Second},
		{"data_total_timeout", l.DataTotalTimeout.D(), 150 * time.Second},
		{"max_errors", l.MaxErrors, 3},
		{"shutdown_grace", l.ShutdownGrace.D(), time.Duration(0)},
		{"proxy.trusted_networks", strings.Join(c.Proxy.TrustedNetworks, ","), "10.0.0.0/8,192.0.2.9"},
		{"proxy.header_timeout", c.Proxy.HeaderTimeout.D(), 2 * time.Second},
		{"log.level", c.Log.Level, "debug"},
		{"log.format", c.Log.Format, "json"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

// TestPartialConfigKeepsDefaults checks that keys left out keep their
// defaults, also inside a table the file does write.
func TestPartialConfigKeepsDefaults(t *testing.T) {
	c, err := Parse("posthorn.toml", []byte("hostname = \"mail.example.com\"\n[limits.smtp]\nmax_errors = 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Hostname = "mail.example.com"
	want.Limits.SMTP.MaxErrors = 3
	if !equalConfig(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
}
