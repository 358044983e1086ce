package dkim

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	msgauth "github.com/emersion/go-msgauth/dkim"

	"github.com/posthorn/posthorn/internal/dns"
)

// Status is a DKIM verdict, named as in Authentication-Results (RFC 8601
// §2.7.1).
type Status string

const (
	StatusPass      Status = "pass"
	StatusFail      Status = "fail"      // the signature or body hash does not match
	StatusPolicy    Status = "policy"    // valid maybe, but not acceptable to us (l=)
	StatusTempError Status = "temperror" // the key could not be fetched now
	StatusPermError Status = "permerror" // malformed, expired, no or bad key
)

// Result is the verdict on one DKIM-Signature field.
type Result struct {
	Status Status
	// Err says why the status is not pass.
	Err error
	// Signature is the parsed field; nil when it did not parse.
	Signature *Signature
}

// Verifier checks DKIM signatures. The zero value is not usable: set
// Resolver.
type Verifier struct {
	// Resolver looks up key records (TXT at selector._domainkey.domain).
	Resolver dns.Resolver
	// Now is the clock for x= (expiry). Default time.Now.
	Now func() time.Time
	// MaxSignatures is how many DKIM-Signature fields are checked, from
	// the top; the rest are ignored (no Result). Default 10.
	MaxSignatures int
}

// Verify checks the DKIM signatures of msg with resolver; see
// Verifier.Verify.
func Verify(ctx context.Context, resolver dns.Resolver, msg io.Reader) ([]Result, error) {
	v := Verifier{Resolver: resolver}
	return v.Verify(ctx, msg)
}

// Verify returns one Result per DKIM-Signature field of msg, in header
// order (at most MaxSignatures); none when the message is unsigned (the
// "none" of RFC 8601). The error is for failures to read msg, not for bad
// signatures.
func (v *Verifier) Verify(ctx context.Context, msg io.Reader) ([]Result, error) {
	if v.Resolver == nil {
		return nil, errors.New("dkim: Verifier without Resolver")
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	maxSigs := v.MaxSignatures
	if maxSigs <= 0 {
		maxSigs = 10
	}

	br := bufio.NewReader(msg)
	header, fields, err := readHeader(br)
	if err != nil {
		return nil, err
	}
	var results []Result
	for _, f := range fields {
		if !strings.EqualFold(f.name, "DKIM-Signature") {
			continue
		}
		if len(results) == maxSigs {
			break
		}
		sig, err := ParseSignature(f.value)
		if err != nil {
			results = append(results, Result{Status: StatusPermError, Err: err})
			continue
		}
		results = append(results, Result{Status: StatusPass, Signature: sig})
	}
	if len(results) == 0 {
		_, err := io.Copy(io.Discard, br)
		return nil, err
	}

	lookup := func(name string) ([]string, error) {
		txts, _, err := v.Resolver.LookupTXT(ctx, name)
		if err != nil {
			// go-msgauth tells temporary from permanent failures by
			// net.Error; *net.DNSError carries both.
			return nil, dns.NetError(err)
		}
		return txts, nil
	}
	body := &errRecorder{r: br}
	verifs, err := msgauth.VerifyWithOptions(io.MultiReader(bytes.NewReader(header), body), &msgauth.VerifyOptions{
		LookupTXT:        lookup,
		MaxVerifications: maxSigs,
	})
	if body.err != nil {
		return nil, fmt.Errorf("dkim: reading message: %w", body.err)
	}
	switch {
	case errors.Is(err, msgauth.ErrTooManySignatures):
	case err != nil && verifs == nil:
		// The message is malformed for go-msgauth (e.g. no end of
		// header): no signature can pass.
		for i := range results {
			if results[i].Status == StatusPass {
				results[i] = Result{Status: StatusPermError, Err: fmt.Errorf("dkim: %v", err), Signature: results[i].Signature}
			}
		}
		_, _ = io.Copy(io.Discard, br)
		return results, nil
	case err != nil:
		return nil, err
	}
	if len(verifs) != len(results) {
		// Our header split and go-msgauth's disagree: trust neither.
		for i := range results {
			results[i].Status = StatusPermError
			results[i].Err = fmt.Errorf("dkim: %d signatures found, verifier saw %d", len(results), len(verifs))
		}
		return results, nil
	}
	for i, vf := range verifs {
		r := &results[i]
		if r.Status != StatusPass {
			continue // our strict parse already failed it
		}
		switch err := vf.Err; {
		case err == nil:
		case msgauth.IsTempFail(err):
			r.Status, r.Err = StatusTempError, err
		case msgauth.IsPermFail(err):
			r.Status, r.Err = StatusPermError, err
		case r.Signature.BodyLength >= 0:
			// go-msgauth refuses every l= signature; see the package doc.
			r.Status, r.Err = StatusPolicy, errors.New("dkim: signature with l= (body length) not accepted")
		default:
			r.Status, r.Err = StatusFail, err
		}
		if r.Status == StatusPass && !r.Signature.Expiration.IsZero() && now().After(r.Signature.Expiration) {
			r.Status, r.Err = StatusPermError, errors.New("dkim: signature has expired (x=)")
		}
		if r.Status == StatusPass && v.strictKeyViolated(ctx, r.Signature) {
			r.Status, r.Err = StatusPermError, errors.New("dkim: i= is a subdomain of d= but the key has t=s")
		}
	}
	return results, nil
}

// errRecorder keeps the first read error other than EOF, so that a failing
// reader is reported as an error and not as bad signatures.
type errRecorder struct {
	r   io.Reader
	err error
}

func (e *errRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// strictKeyViolated reports whether the signature's AUID is in a subdomain
// of d= while the key record carries the flag t=s, which forbids that
// (RFC 6376 §3.6.1). go-msgauth does not check it. The key record comes
// from the resolver's cache: go-msgauth has just looked it up.
func (v *Verifier) strictKeyViolated(ctx context.Context, sig *Signature) bool {
	at := strings.LastIndexByte(sig.Identifier, '@')
	if strings.EqualFold(sig.Identifier[at+1:], sig.Domain) {
		return false
	}
	txts, _, err := v.Resolver.LookupTXT(ctx, RecordName(sig.Selector, sig.Domain))
	if err != nil || len(txts) != 1 {
		return false
	}
	tags, err := parseTagList(txts[0])
	if err != nil {
		return false
	}
	for f := range strings.SplitSeq(tags["t"], ":") {
		if stripFWS(f) == "s" {
			return true
		}
	}
	return false
}
