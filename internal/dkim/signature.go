package dkim

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Signature is a parsed DKIM-Signature header field (RFC 6376 §3.5).
type Signature struct {
	Algorithm        string   // a=, "rsa-sha256" or "ed25519-sha256"
	Domain           string   // d=, lower case
	Selector         string   // s=, lower case
	Identifier       string   // i=, the AUID; "@" + Domain when absent
	Headers          []string // h=, the signed field names as written
	Canonicalization string   // c=, normalised to "header/body"
	BodyHash         []byte   // bh=
	Data             []byte   // b=
	// RawData is b= with whitespace removed, for header.b in
	// Authentication-Results (RFC 6008).
	RawData string
	// BodyLength is l=, or -1 when absent.
	BodyLength int64
	Time       time.Time // t=, zero when absent
	Expiration time.Time // x=, zero when absent
}

// ParseSignature parses the value of a DKIM-Signature field strictly: a
// syntax error, a duplicate tag, a missing required tag, v other than 1,
// an unknown algorithm or canonicalization, an i= outside d=, an h=
// without From, x= not after t=, or a q= without dns/txt is an error
// (a PERMFAIL, RFC 6376 §6.1.1). Unknown tags are ignored (§3.2).
func ParseSignature(value string) (*Signature, error) {
	tags, err := parseTagList(value)
	if err != nil {
		return nil, err
	}
	for _, t := range []string{"v", "a", "b", "bh", "d", "h", "s"} {
		if _, ok := tags[t]; !ok {
			return nil, fmt.Errorf("dkim: signature without required tag %s=", t)
		}
	}
	if tags["v"] != "1" {
		return nil, fmt.Errorf("dkim: signature version %q, want 1", tags["v"])
	}
	sig := &Signature{BodyLength: -1}

	switch a := tags["a"]; a {
	case "rsa-sha256", "ed25519-sha256":
		sig.Algorithm = a
	case "rsa-sha1":
		return nil, errors.New("dkim: rsa-sha1 is not acceptable (RFC 8301 §3.1)")
	default:
		return nil, fmt.Errorf("dkim: unknown algorithm %q", a)
	}

	if sig.RawData = stripFWS(tags["b"]); sig.RawData == "" {
		return nil, errors.New("dkim: empty b=")
	}
	if sig.Data, err = base64.StdEncoding.DecodeString(sig.RawData); err != nil {
		return nil, fmt.Errorf("dkim: b=: %v", err)
	}
	if sig.BodyHash, err = base64.StdEncoding.DecodeString(stripFWS(tags["bh"])); err != nil || len(sig.BodyHash) == 0 {
		return nil, fmt.Errorf("dkim: bad bh=")
	}

	c := tags["c"]
	if c == "" {
		c = "simple/simple"
	}
	hc, bc, found := strings.Cut(c, "/")
	if !found {
		bc = "simple"
	}
	if !isCanon(hc) || !isCanon(bc) {
		return nil, fmt.Errorf("dkim: unknown canonicalization %q", c)
	}
	sig.Canonicalization = hc + "/" + bc

	sig.Domain = strings.ToLower(tags["d"])
	if !isDomain(sig.Domain) {
		return nil, fmt.Errorf("dkim: bad d= %q", tags["d"])
	}
	sig.Selector = strings.ToLower(tags["s"])
	if !isDomain(sig.Selector) {
		return nil, fmt.Errorf("dkim: bad s= %q", tags["s"])
	}

	sig.Identifier = "@" + sig.Domain
	if i, ok := tags["i"]; ok {
		at := strings.LastIndexByte(i, '@')
		if at < 0 {
			return nil, fmt.Errorf("dkim: bad i= %q", i)
		}
		id := strings.ToLower(i[at+1:])
		if id != sig.Domain && !strings.HasSuffix(id, "."+sig.Domain) {
			return nil, fmt.Errorf("dkim: i= %q is not in d= %s", i, sig.Domain)
		}
		sig.Identifier = i
	}

	hasFrom := false
	for h := range strings.SplitSeq(tags["h"], ":") {
		h = stripFWS(h)
		if !validFieldName(h) {
			return nil, fmt.Errorf("dkim: bad field name %q in h=", h)
		}
		hasFrom = hasFrom || strings.EqualFold(h, "from")
		sig.Headers = append(sig.Headers, h)
	}
	if !hasFrom {
		return nil, errors.New("dkim: From is not signed")
	}

	if l, ok := tags["l"]; ok {
		if sig.BodyLength, err = parseDecimal(l, 76); err != nil {
			return nil, fmt.Errorf("dkim: bad l=: %v", err)
		}
	}
	if q, ok := tags["q"]; ok {
		dnsTXT := false
		for m := range strings.SplitSeq(q, ":") {
			dnsTXT = dnsTXT || stripFWS(m) == "dns/txt"
		}
		if !dnsTXT {
			return nil, fmt.Errorf("dkim: unsupported query method %q", q)
		}
	}
	if t, ok := tags["t"]; ok {
		n, err := parseDecimal(t, 12)
		if err != nil {
			return nil, fmt.Errorf("dkim: bad t=: %v", err)
		}
		sig.Time = time.Unix(n, 0)
	}
	if x, ok := tags["x"]; ok {
		n, err := parseDecimal(x, 12)
		if err != nil {
			return nil, fmt.Errorf("dkim: bad x=: %v", err)
		}
		sig.Expiration = time.Unix(n, 0)
		if !sig.Time.IsZero() && !sig.Expiration.After(sig.Time) {
			return nil, errors.New("dkim: x= is not after t= (RFC 6376 §3.5)")
		}
	}
	return sig, nil
}

// parseTagList parses a tag-list (RFC 6376 §3.2):
//
//	tag-list  = tag-spec *( ";" tag-spec ) [ ";" ]
//	tag-spec  = [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
//	tag-name  = ALPHA *ALNUMPUNC
//	tag-value = [ tval *( 1*(WSP / FWS) tval ) ]   ; tval: %x21-3A / %x3C-7E
//
// Values are returned with surrounding whitespace removed.
func parseTagList(s string) (map[string]string, error) {
	tags := make(map[string]string)
	specs := strings.Split(s, ";")
	if strings.TrimLeft(specs[len(specs)-1], " \t\r\n") == "" && len(specs) > 1 {
		specs = specs[:len(specs)-1] // the optional trailing ";"
	}
	for _, spec := range specs {
		name, value, ok := strings.Cut(spec, "=")
		if !ok {
			return nil, fmt.Errorf("dkim: tag without '=' in %q", spec)
		}
		name = strings.Trim(name, " \t\r\n")
		if !isTagName(name) {
			return nil, fmt.Errorf("dkim: bad tag name %q", name)
		}
		if _, dup := tags[name]; dup {
			return nil, fmt.Errorf("dkim: duplicate tag %s=", name)
		}
		for i := 0; i < len(value); i++ {
			c := value[i]
			if (c < 0x21 || c > 0x7e) && c != ' ' && c != '\t' && c != '\r' && c != '\n' {
				return nil, fmt.Errorf("dkim: bad character %q in tag %s=", c, name)
			}
		}
		tags[name] = strings.Trim(value, " \t\r\n")
	}
	return tags, nil
}

func isTagName(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isAlpha(s[i]) && (s[i] < '0' || s[i] > '9') && s[i] != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isCanon(s string) bool { return s == "simple" || s == "relaxed" }

// isDomain reports whether s is a domain name of ASCII labels (letters,
// digits, hyphen, underscore for selectors), without the trailing dot.
func isDomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !isAlpha(c) && (c < '0' || c > '9') && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}

// stripFWS removes all whitespace (folding included).
func stripFWS(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}

// parseDecimal parses 1 to maxDigits digits; values beyond int64 are
// refused.
func parseDecimal(s string, maxDigits int) (int64, error) {
	if s == "" || len(s) > maxDigits {
		return 0, fmt.Errorf("%q: want 1 to %d digits", s, maxDigits)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a number", s)
		}
	}
	return strconv.ParseInt(s, 10, 64)
}
