// Package arc verifies Authenticated Received Chains (RFC 8617): the sets
// of ARC-Authentication-Results, ARC-Message-Signature and ARC-Seal fields
// that forwarders (mailing lists, forwarding services) add so that a later
// receiver can see what the earlier hops verified. Sealing (adding our own
// set) is not done here.
//
// go-msgauth has no ARC, and its DKIM verifier cannot check an
// ARC-Message-Signature (the signed data includes the field under its own
// name), so the canonicalization (RFC 6376 §3.4) and signature checks are
// our own, on crypto/rsa and crypto/ed25519, with keys from internal/dns
// at selector._domainkey.domain as for DKIM (RSA under 1024 bits refused,
// RFC 8301).
//
// Validation follows RFC 8617 §5.2:
//
//  1. No ARC fields: none.
//  2. The sets must be complete and numbered 1..N (N ≤ 50), one field of
//     each kind per instance; the newest seal must not say cv=fail; seal 1
//     says cv=none, every later one cv=pass. Otherwise fail.
//  3. The newest ARC-Message-Signature must verify (body hash and
//     signature); otherwise fail.
//  4. Every ARC-Seal, newest first, must verify over the sets up to its
//     own; otherwise fail.
//
// A key that cannot be fetched now makes the result temperror rather than
// fail (the chain may be fine). The result reports the chain's newest
// instance and the sealing domain of each set, for Authentication-Results
// (arc=pass header.oldest-pass is not computed: only the newest message
// signature is checked, as §5.2 requires).
package arc

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/posthorn/posthorn/internal/dns"
)

// Status is an ARC result (RFC 8617 §4.4, RFC 8601 §2.7.1).
type Status string

const (
	None      Status = "none"
	Pass      Status = "pass"
	Fail      Status = "fail"
	TempError Status = "temperror"
)

// maxInstances is the largest instance number allowed (RFC 8617 §4.2.1).
const maxInstances = 50

// Result is the verdict on a message's chain.
type Result struct {
	Status Status
	// Instances is the number of ARC sets (N), 0 for none.
	Instances int
	// Sealers are the d= domains of the seals, instance 1 first.
	Sealers []string
	// Err says why the status is not pass or none, for logs.
	Err error
}

// field is one header field as it appears in the message.
type field struct {
	name string // as written
	raw  []byte // "Name: value\r\n", continuation lines included
}

func (f field) value() string {
	s := string(f.raw[len(f.name)+1:])
	return strings.TrimSuffix(s, "\r\n")
}

// set is one ARC instance.
type set struct {
	aar, ams, as *field
	amsTags      map[string]string
	asTags       map[string]string
}

// Verify checks the ARC chain of msg (CRLF line endings, as received).
func Verify(ctx context.Context, r dns.Resolver, msg []byte) Result {
	fields, body := splitHeader(msg)
	sets := map[int]*set{}
	n := 0
	for i := range fields {
		f := &fields[i]
		kind := strings.ToLower(f.name)
		if kind != "arc-authentication-results" && kind != "arc-message-signature" && kind != "arc-seal" {
			continue
		}
		inst, err := instanceOf(kind, f.value())
		if err != nil {
			return failf("%s: %v", f.name, err)
		}
		s := sets[inst]
		if s == nil {
			s = &set{}
			sets[inst] = s
		}
		var slot **field
		switch kind {
		case "arc-authentication-results":
			slot = &s.aar
		case "arc-message-signature":
			slot = &s.ams
		default:
			slot = &s.as
		}
		if *slot != nil {
			return failf("two %s fields with i=%d", f.name, inst)
		}
		*slot = f
		n = max(n, inst)
	}
	if len(sets) == 0 {
		return Result{Status: None}
	}
	res := Result{Status: Fail, Instances: n}
	if n > maxInstances || len(sets) != n {
		res.Err = fmt.Errorf("arc: instances not numbered 1..%d", n)
		return res
	}
	for i := 1; i <= n; i++ {
		s := sets[i]
		if s == nil || s.aar == nil || s.ams == nil || s.as == nil {
			res.Err = fmt.Errorf("arc: set %d incomplete", i)
			return res
		}
		var err error
		if s.amsTags, err = parseTags(s.ams.value()); err != nil {
			res.Err = fmt.Errorf("arc: ARC-Message-Signature i=%d: %v", i, err)
			return res
		}
		if s.asTags, err = parseTags(s.as.value()); err != nil {
			res.Err = fmt.Errorf("arc: ARC-Seal i=%d: %v", i, err)
			return res
		}
		cv := strings.ToLower(s.asTags["cv"])
		want := "pass"
		if i == 1 {
			want = "none"
		}
		if cv != want {
			res.Err = fmt.Errorf("arc: ARC-Seal i=%d has cv=%s, want %s", i, cv, want)
			return res
		}
		res.Sealers = append(res.Sealers, strings.ToLower(s.asTags["d"]))
	}

	// §5.2 step 5: the newest message signature.
	if err := verifyAMS(ctx, r, sets[n], fields, body); err != nil {
		return withErr(res, fmt.Errorf("arc: ARC-Message-Signature i=%d: %w", n, err))
	}
	// Step 6: every seal, newest first.
	for i := n; i >= 1; i-- {
		if err := verifyAS(ctx, r, sets, i); err != nil {
			return withErr(res, fmt.Errorf("arc: ARC-Seal i=%d: %w", i, err))
		}
	}
	res.Status = Pass
	return res
}

func failf(format string, a ...any) Result {
	return Result{Status: Fail, Err: fmt.Errorf("arc: "+format, a...)}
}

func withErr(res Result, err error) Result {
	res.Err = err
	if errors.Is(err, errTempKey) {
		res.Status = TempError
	}
	return res
}

// instanceOf reads the i= tag: the first tag of an
// ARC-Authentication-Results value (RFC 8617 §4.1.1), any tag of the
// others.
func instanceOf(kind, value string) (int, error) {
	var v string
	if kind == "arc-authentication-results" {
		first, _, _ := strings.Cut(value, ";")
		name, val, ok := strings.Cut(first, "=")
		if !ok || strings.TrimSpace(name) != "i" {
			return 0, errors.New("does not start with i=")
		}
		v = val
	} else {
		tags, err := parseTags(value)
		if err != nil {
			return 0, err
		}
		v = tags["i"]
	}
	v = stripWS(v)
	i, err := strconv.Atoi(v)
	if err != nil || i < 1 || i > maxInstances || len(v) > 2 {
		return 0, fmt.Errorf("bad instance %q", v)
	}
	return i, nil
}

// verifyAMS checks an ARC-Message-Signature: DKIM's algorithm (RFC 8617
// §4.1.2) over the fields named in h= and the body.
func verifyAMS(ctx context.Context, r dns.Resolver, s *set, fields []field, body []byte) error {
	t := s.amsTags
	hc, bc, err := canonModes(t["c"])
	if err != nil {
		return err
	}
	if _, ok := t["l"]; ok {
		return errors.New("l= not accepted") // as for DKIM, see internal/dkim
	}
	bh, err := base64.StdEncoding.DecodeString(stripWS(t["bh"]))
	if err != nil {
		return errors.New("bad bh=")
	}
	sum := sha256.Sum256(canonBody(body, bc))
	if !bytes.Equal(sum[:], bh) {
		return errors.New("body hash does not match")
	}
	h := sha256.New()
	used := map[*field]bool{}
	for name := range strings.SplitSeq(t["h"], ":") {
		name = stripWS(name)
		// The bottom-most unused field of that name (RFC 6376 §5.4.2);
		// a name with none left contributes nothing.
		for i := len(fields) - 1; i >= 0; i-- {
			f := &fields[i]
			if !used[f] && strings.EqualFold(f.name, name) {
				used[f] = true
				h.Write(canonHeader(f.raw, hc))
				break
			}
		}
	}
	h.Write(bytes.TrimSuffix(canonHeader(withoutB(s.ams.raw), hc), []byte("\r\n")))
	return verifySig(ctx, r, t, h.Sum(nil))
}

// verifyAS checks the seal of instance i: relaxed canonicalization of the
// ARC fields of sets 1..i in order AAR, AMS, AS, with seal i's b= empty
// (RFC 8617 §5.1.1).
func verifyAS(ctx context.Context, r dns.Resolver, sets map[int]*set, i int) error {
	h := sha256.New()
	for k := 1; k <= i; k++ {
		s := sets[k]
		h.Write(canonHeader(s.aar.raw, "relaxed"))
		h.Write(canonHeader(s.ams.raw, "relaxed"))
		if k < i {
			h.Write(canonHeader(s.as.raw, "relaxed"))
		}
	}
	h.Write(bytes.TrimSuffix(canonHeader(withoutB(sets[i].as.raw), "relaxed"), []byte("\r\n")))
	return verifySig(ctx, r, sets[i].asTags, h.Sum(nil))
}

var errTempKey = errors.New("key lookup failed temporarily")

// verifySig checks b= over hash with the key at s=._domainkey.d=.
func verifySig(ctx context.Context, r dns.Resolver, tags map[string]string, hash []byte) error {
	alg := strings.ToLower(stripWS(tags["a"]))
	if alg != "rsa-sha256" && alg != "ed25519-sha256" {
		return fmt.Errorf("algorithm %q not accepted", alg)
	}
	sig, err := base64.StdEncoding.DecodeString(stripWS(tags["b"]))
	if err != nil || len(sig) == 0 {
		return errors.New("bad b=")
	}
	d, sel := stripWS(tags["d"]), stripWS(tags["s"])
	if d == "" || sel == "" {
		return errors.New("missing d= or s=")
	}
	txts, _, err := r.LookupTXT(ctx, sel+"._domainkey."+d)
	switch {
	case dns.IsTemporary(err):
		return fmt.Errorf("%w: %v", errTempKey, err)
	case err != nil:
		return fmt.Errorf("no key: %v", err)
	case len(txts) != 1:
		return fmt.Errorf("%d key records", len(txts))
	}
	pub, err := parseKey(txts[0])
	if err != nil {
		return err
	}
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if alg != "rsa-sha256" {
			return errors.New("key type does not match a=")
		}
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, hash, sig) != nil {
			return errors.New("signature does not verify")
		}
	case ed25519.PublicKey:
		if alg != "ed25519-sha256" {
			return errors.New("key type does not match a=")
		}
		if !ed25519.Verify(pub, hash, sig) {
			return errors.New("signature does not verify")
		}
	}
	return nil
}

// parseKey reads a DKIM key record (RFC 6376 §3.6.1, RFC 8463 §4.2).
func parseKey(txt string) (crypto.PublicKey, error) {
	tags, err := parseTags(txt)
	if err != nil {
		return nil, fmt.Errorf("key record: %v", err)
	}
	if v, ok := tags["v"]; ok && stripWS(v) != "DKIM1" {
		return nil, errors.New("key record: not DKIM1")
	}
	p, err := base64.StdEncoding.DecodeString(stripWS(tags["p"]))
	if err != nil || len(p) == 0 {
		return nil, errors.New("key record: no key (revoked or bad p=)")
	}
	switch k := strings.ToLower(stripWS(tags["k"])); k {
	case "", "rsa":
		key, err := x509.ParsePKIXPublicKey(p)
		if err != nil {
			if key, err = x509.ParsePKCS1PublicKey(p); err != nil {
				return nil, errors.New("key record: bad RSA key")
			}
		}
		rk, ok := key.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("key record: not an RSA key")
		}
		if rk.Size()*8 < 1024 {
			return nil, fmt.Errorf("key record: RSA key of %d bits (RFC 8301: at least 1024)", rk.Size()*8)
		}
		return rk, nil
	case "ed25519":
		if len(p) != ed25519.PublicKeySize {
			return nil, errors.New("key record: bad Ed25519 key")
		}
		return ed25519.PublicKey(p), nil
	default:
		return nil, fmt.Errorf("key record: key type %q", k)
	}
}
