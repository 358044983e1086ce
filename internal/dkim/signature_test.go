package dkim_test

import (
	"strings"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/dkim"
)

const goodSig = "v=1; a=rsa-sha256; c=relaxed/simple; d=Example.ORG; s=Sel1;\r\n" +
	"\t i=alice@mail.example.org; t=1700000000; x=1700086400; l=120; q=dns/txt;\r\n" +
	"\t h=From:To : Subject; z=ignored; future_tag=whatever;\r\n" +
	"\t bh=YWJj; b=ZGVm\r\n ZGVm;"

func TestParseSignature(t *testing.T) {
	sig, err := dkim.ParseSignature(goodSig)
	if err != nil {
		t.Fatal(err)
	}
	if sig.Algorithm != "rsa-sha256" || sig.Domain != "example.org" || sig.Selector != "sel1" ||
		sig.Identifier != "alice@mail.example.org" || sig.Canonicalization != "relaxed/simple" ||
		strings.Join(sig.Headers, ",") != "From,To,Subject" || string(sig.BodyHash) != "abc" ||
		string(sig.Data) != "defdef" || sig.RawData != "ZGVmZGVm" || sig.BodyLength != 120 ||
		!sig.Time.Equal(time.Unix(1700000000, 0)) || !sig.Expiration.Equal(time.Unix(1700086400, 0)) {
		t.Errorf("parsed %+v", sig)
	}
	min, err := dkim.ParseSignature("v=1;a=ed25519-sha256;d=example.org;s=s;h=from;bh=YWJj;b=ZGVm")
	if err != nil || min.Canonicalization != "simple/simple" || min.Identifier != "@example.org" || min.BodyLength != -1 {
		t.Errorf("minimal: %+v %v", min, err)
	}
	relaxedOnly, err := dkim.ParseSignature("v=1;a=ed25519-sha256;c=relaxed;d=example.org;s=s;h=from;bh=YWJj;b=ZGVm")
	if err != nil || relaxedOnly.Canonicalization != "relaxed/simple" {
		t.Errorf("c=relaxed: %+v %v", relaxedOnly, err)
	}
}

func TestParseSignatureErrors(t *testing.T) {
	base := map[string]string{
		"v": "1", "a": "rsa-sha256", "d": "example.org", "s": "sel", "h": "from:to", "bh": "YWJj", "b": "ZGVm",
	}
	build := func(change map[string]string) string {
		var parts []string
		for _, k := range []string{"v", "a", "d", "s", "h", "bh", "b", "c", "i", "l", "q", "t", "x"} {
			v, ok := base[k]
			if c, changed := change[k]; changed {
				v, ok = c, c != "<absent>"
			}
			if ok {
				parts = append(parts, k+"="+v)
			}
		}
		return strings.Join(parts, "; ")
	}
	if _, err := dkim.ParseSignature(build(nil)); err != nil {
		t.Fatalf("base signature: %v", err)
	}
	bad := map[string]map[string]string{
		"no v":           {"v": "<absent>"},
		"v=2":            {"v": "2"},
		"no b":           {"b": "<absent>"},
		"empty b":        {"b": ""},
		"bad b64":        {"b": "!!!"},
		"no bh":          {"bh": "<absent>"},
		"no d":           {"d": "<absent>"},
		"bad d":          {"d": "exa mple.org"},
		"d trailing dot": {"d": "example.org."},
		"no s":           {"s": "<absent>"},
		"no h":           {"h": "<absent>"},
		"h without from": {"h": "to:subject"},
		"h empty name":   {"h": "from::to"},
		"rsa-sha1":       {"a": "rsa-sha1"},
		"unknown a":      {"a": "dsa-sha256"},
		"bad c":          {"c": "relaxed/fancy"},
		"i outside d":    {"i": "alice@example.net"},
		"i suffix trick": {"i": "alice@badexample.org"},
		"i without @":    {"i": "alice"},
		"bad l":          {"l": "12a"},
		"negative l":     {"l": "-1"},
		"q other":        {"q": "dns/other"},
		"bad t":          {"t": "soon"},
		"x before t":     {"t": "1700000000", "x": "1600000000"},
		"x equal t":      {"t": "1700000000", "x": "1700000000"},
		"x too long":     {"x": "1234567890123"},
	}
	for name, change := range bad {
		if sig, err := dkim.ParseSignature(build(change)); err == nil {
			t.Errorf("%s: parsed %+v", name, sig)
		}
	}
	for _, raw := range []string{
		"",
		build(nil) + "; v=1",           // duplicate tag
		build(nil) + ";; foo=bar",      // empty tag-spec
		"1v=1; " + build(nil),          // tag name starting with a digit
		"a b=1; " + build(nil),         // space in tag name
		build(nil) + "; z=caf\xc3\xa9", // non-ASCII value
		build(nil) + "; z=a\x00b",      // control character
		build(nil) + "; novalue",
	} {
		if sig, err := dkim.ParseSignature(raw); err == nil {
			t.Errorf("%q: parsed %+v", raw, sig)
		}
	}
	// A trailing ";" and folding whitespace are fine.
	if _, err := dkim.ParseSignature(" " + build(nil) + " ;\r\n "); err != nil {
		t.Errorf("trailing semicolon: %v", err)
	}
}
