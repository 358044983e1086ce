package tlspolicy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MTA-STS (RFC 8461): the TXT record at _mta-sts.DOMAIN and the policy
// file at https://mta-sts.DOMAIN/.well-known/mta-sts.txt, parsed strictly
// after the ABNF of §3.1 and §3.2.

// Mode is an MTA-STS policy mode (RFC 8461 §5).
type Mode string

const (
	// ModeEnforce: mail goes only to matching MX hosts over verified TLS.
	ModeEnforce Mode = "enforce"
	// ModeTesting: failures are reported (logged) but mail still goes.
	ModeTesting Mode = "testing"
	// ModeNone: the domain withdrew its policy.
	ModeNone Mode = "none"
)

// maxMaxAge is the largest max_age allowed (RFC 8461 §3.2: 31557600
// seconds, about one year).
const maxMaxAge = 31557600

// STSPolicy is a fetched MTA-STS policy.
type STSPolicy struct {
	// ID is the id= of the TXT record the policy was fetched for.
	ID   string
	Mode Mode
	// MX are the allowed MX patterns: host names, or "*.domain" for any
	// single label in front of domain. Lower case, no trailing dot.
	MX     []string
	MaxAge time.Duration
	// Fetched is when the policy was fetched; it expires MaxAge later.
	Fetched time.Time
}

// Expires is when the cached policy stops applying.
func (p *STSPolicy) Expires() time.Time { return p.Fetched.Add(p.MaxAge) }

// Match reports whether host matches one of the mx patterns (RFC 8461
// §4.1): exactly, or a "*." pattern whose wildcard stands for exactly
// one label. Case and a trailing dot are ignored.
func (p *STSPolicy) Match(host string) bool {
	host = lowerDomain(host)
	for _, pat := range p.MX {
		if rest, ok := strings.CutPrefix(pat, "*."); ok {
			i := strings.IndexByte(host, '.')
			if i > 0 && host[i+1:] == rest {
				return true
			}
		} else if host == pat {
			return true
		}
	}
	return false
}

// ParseSTSRecord reads the TXT record of _mta-sts.DOMAIN (RFC 8461 §3.1)
// and returns its id. The record must start with "v=STSv1" and carry one
// id of 1 to 32 letters and digits; extension fields are allowed and
// ignored.
func ParseSTSRecord(txt string) (id string, err error) {
	fields := strings.Split(txt, ";")
	if strings.TrimRight(fields[0], " \t") != "v=STSv1" {
		return "", errors.New("mta-sts: record does not start with v=STSv1")
	}
	// A trailing separator is allowed; an empty field elsewhere is not.
	if last := len(fields) - 1; last > 0 && strings.Trim(fields[last], " \t") == "" {
		fields = fields[:last]
	}
	for _, f := range fields[1:] {
		f = strings.Trim(f, " \t")
		name, value, ok := strings.Cut(f, "=")
		if !ok || !validExtName(name) {
			return "", fmt.Errorf("mta-sts: bad field %q", f)
		}
		if name == "id" {
			if id != "" {
				return "", errors.New("mta-sts: more than one id")
			}
			if len(value) < 1 || len(value) > 32 || !isAlnum(value) {
				return "", fmt.Errorf("mta-sts: bad id %q", value)
			}
			id = value
			continue
		}
		if value == "" {
			return "", fmt.Errorf("mta-sts: empty value of %q", name)
		}
		for i := 0; i < len(value); i++ {
			c := value[i]
			if c < 0x21 || c > 0x7e || c == '=' || c == ';' {
				return "", fmt.Errorf("mta-sts: bad value of %q", name)
			}
		}
	}
	if id == "" {
		return "", errors.New("mta-sts: record without id")
	}
	return id, nil
}

// selectSTSRecord picks the one MTA-STS record among the TXT records of
// _mta-sts.DOMAIN: those not starting with "v=STSv1;" are discarded, and
// if not exactly one remains the domain has no policy (RFC 8461 §3.1).
func selectSTSRecord(txts []string) (string, error) {
	var found []string
	for _, t := range txts {
		if strings.HasPrefix(t, "v=STSv1") {
			found = append(found, t)
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("mta-sts: %d STSv1 records", len(found))
	}
	return ParseSTSRecord(found[0])
}

// ParseSTSPolicy reads a policy file (RFC 8461 §3.2): lines of "key:
// value" ending in LF or CRLF. version (STSv1), mode and max_age are
// required once each; mx at least once unless mode is none. Unknown
// keys are extensions and ignored. ID and Fetched are left for the caller.
func ParseSTSPolicy(text string) (*STSPolicy, error) {
	p := &STSPolicy{}
	seen := map[string]bool{}
	text = strings.TrimSuffix(text, "\n")
	text = strings.TrimSuffix(text, "\r")
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSuffix(line, "\r")
		key, value, ok := strings.Cut(line, ":")
		if !ok || !validExtName(key) {
			return nil, fmt.Errorf("mta-sts policy: line %d: want key: value", n+1)
		}
		value = strings.TrimRight(strings.TrimLeft(value, " \t"), " \t")
		if !validPolicyValue(value) {
			return nil, fmt.Errorf("mta-sts policy: line %d: bad value", n+1)
		}
		switch key {
		case "version", "mode", "max_age":
			if seen[key] {
				return nil, fmt.Errorf("mta-sts policy: %s given twice", key)
			}
			seen[key] = true
		}
		switch key {
		case "version":
			if value != "STSv1" {
				return nil, fmt.Errorf("mta-sts policy: version %q", value)
			}
		case "mode":
			switch m := Mode(value); m {
			case ModeEnforce, ModeTesting, ModeNone:
				p.Mode = m
			default:
				return nil, fmt.Errorf("mta-sts policy: mode %q", value)
			}
		case "max_age":
			if len(value) < 1 || len(value) > 10 || !isDigits(value) {
				return nil, fmt.Errorf("mta-sts policy: max_age %q", value)
			}
			secs, _ := strconv.ParseInt(value, 10, 64)
			if secs > maxMaxAge {
				return nil, fmt.Errorf("mta-sts policy: max_age %d over %d", secs, maxMaxAge)
			}
			p.MaxAge = time.Duration(secs) * time.Second
		case "mx":
			pat := lowerDomain(value)
			if !validMXPattern(pat) {
				return nil, fmt.Errorf("mta-sts policy: mx %q", value)
			}
			p.MX = append(p.MX, pat)
		}
	}
	for _, k := range []string{"version", "mode", "max_age"} {
		if !seen[k] {
			return nil, fmt.Errorf("mta-sts policy: no %s", k)
		}
	}
	if len(p.MX) == 0 && p.Mode != ModeNone {
		return nil, errors.New("mta-sts policy: no mx")
	}
	return p, nil
}

// validExtName: (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".").
func validExtName(s string) bool {
	if len(s) < 1 || len(s) > 32 || !isAlnumByte(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlnumByte(c) && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// validPolicyValue: visible characters with inner spaces (§3.2
// sts-policy-ext-value); UTF-8 is allowed by sts-policy-vchar.
func validPolicyValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// validMXPattern: ["*."] Domain, where Domain is RFC 5321's (letters,
// digits, hyphens; at least two labels after a wildcard).
func validMXPattern(p string) bool {
	rest, wild := strings.CutPrefix(p, "*.")
	labels := strings.Split(rest, ".")
	if wild && len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if !isAlnumByte(l[i]) && l[i] != '-' {
				return false
			}
		}
	}
	return len(rest) <= 253
}

func isAlnumByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnumByte(s[i]) {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// lowerDomain is a domain name in lower case without the trailing dot.
func lowerDomain(s string) string { return strings.ToLower(strings.TrimSuffix(s, ".")) }
