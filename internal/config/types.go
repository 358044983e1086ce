package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a length of time written as a Go duration string such as
// "30s", "5m" or "1h30m" (time.ParseDuration). A bare integer is refused:
// it would have no unit.
//
// It is a struct, not a named time.Duration, so that go-toml hands integers
// to UnmarshalText (and we refuse them) instead of storing them as
// nanoseconds.
type Duration struct {
	d time.Duration
}

// NewDuration returns d as a Duration.
func NewDuration(d time.Duration) Duration { return Duration{d} }

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return d.d }

// String formats d compactly: "5m", "1h", "1m30s".
func (d Duration) String() string {
	s := d.d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q", b)
	}
	d.d = v
	return nil
}

// ByteSize is a number of bytes. In TOML it is an integer (bytes) or a
// string with a unit: "50MiB", "10MB", "512KiB", "1GiB", "300B". Binary
// units (KiB, MiB, GiB, TiB) are powers of 1024, decimal ones (KB, MB, GB,
// TB) powers of 1000; units are case-insensitive.
type ByteSize int64

// Int64 returns the size in bytes.
func (s ByteSize) Int64() int64 { return int64(s) }

var sizeUnits = []struct {
	name    string // lower case, as matched
	display string
	mult    int64
}{
	// Binary first, so it wins ties; longest suffixes first, so "MiB" is
	// not read as "B".
	{"tib", "TiB", 1 << 40}, {"gib", "GiB", 1 << 30}, {"mib", "MiB", 1 << 20}, {"kib", "KiB", 1 << 10},
	{"tb", "TB", 1e12}, {"gb", "GB", 1e9}, {"mb", "MB", 1e6}, {"kb", "KB", 1e3},
	{"b", "B", 1},
}

// String formats s with the unit that gives the smallest exact number:
// 52428800 is "50MiB", 10000000 is "10MB", 1234 is "1234B".
func (s ByteSize) String() string {
	n := int64(s)
	best, bestName := n, "B"
	for _, u := range sizeUnits {
		if n != 0 && n%u.mult == 0 && n/u.mult < best {
			best, bestName = n/u.mult, u.display
		}
	}
	return strconv.FormatInt(best, 10) + bestName
}

// MarshalText implements encoding.TextMarshaler.
func (s ByteSize) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler. go-toml calls it for
// TOML strings; TOML integers are stored directly as bytes.
func (s *ByteSize) UnmarshalText(b []byte) error {
	v, err := parseByteSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

func parseByteSize(text string) (ByteSize, error) {
	t := strings.TrimSpace(text)
	mult := int64(1)
	lower := strings.ToLower(t)
	for _, u := range sizeUnits {
		if strings.HasSuffix(lower, u.name) {
			mult = u.mult
			t = strings.TrimSpace(t[:len(t)-len(u.name)])
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q", text)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", text)
	}
	return ByteSize(n * mult), nil
}

// Listener roles, the values of listeners.role. All are valid in the
// config; the daemon refuses to start a role it does not implement yet.
const (
	RoleSMTP        = "smtp"        // inbound MX, port 25, STARTTLS (RFC 5321, RFC 3207)
	RoleSubmission  = "submission"  // message submission, port 587, STARTTLS (RFC 6409)
	RoleSubmissions = "submissions" // submission over implicit TLS, port 465 (RFC 8314)
	RoleIMAP        = "imap"        // IMAP, port 143, STARTTLS (RFC 9051)
	RoleIMAPS       = "imaps"       // IMAP over implicit TLS, port 993 (RFC 8314)
	RolePOP3        = "pop3"        // POP3, port 110, STLS (RFC 1939, RFC 2595)
	RolePOP3S       = "pop3s"       // POP3 over implicit TLS, port 995 (RFC 8314)
	RoleHTTP        = "http"        // HTTP send API
)

// Roles lists every valid role in a stable order.
func Roles() []string {
	return []string{RoleSMTP, RoleSubmission, RoleSubmissions, RoleIMAP, RoleIMAPS, RolePOP3, RolePOP3S, RoleHTTP}
}

func validRole(r string) bool {
	for _, v := range Roles() {
		if r == v {
			return true
		}
	}
	return false
}

// ImplicitTLS reports whether connections to l start with a TLS handshake,
// so that l needs a certificate.
func (l Listener) ImplicitTLS() bool {
	return l.Role == RoleSubmissions || l.Role == RoleIMAPS || l.Role == RolePOP3S
}

// DefaultPort is the conventional port of l's role, 0 for an unknown role.
func (l Listener) DefaultPort() int {
	switch l.Role {
	case RoleSMTP:
		return 25
	case RoleSubmission:
		return 587
	case RoleSubmissions:
		return 465
	case RoleIMAP:
		return 143
	case RoleIMAPS:
		return 993
	case RolePOP3:
		return 110
	case RolePOP3S:
		return 995
	case RoleHTTP:
		return 8080
	}
	return 0
}
