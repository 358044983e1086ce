// Package dmarc evaluates Domain-based Message Authentication, Reporting
// and Conformance (RFC 7489) for a received message: it finds the policy of
// the RFC 5322 From domain, checks whether an SPF or DKIM pass is aligned
// with that domain, and says what the policy asks for.
//
// Records are parsed by go-msgauth's dmarc package after a strict check of
// our own that the record starts with "v=DMARC1" (§6.4); the
// organizational domain comes from the Public Suffix List
// (golang.org/x/net/publicsuffix, §3.2). The rest is here:
//
//   - Policy discovery (§6.6.3): _dmarc.<From domain>, else
//     _dmarc.<organizational domain>. TXT records that do not start with
//     v=DMARC1 are ignored; none or several left means no policy (none). A
//     DNS failure is temperror.
//   - Alignment (§3.1): relaxed (the default) compares organizational
//     domains, strict (adkim=s, aspf=s) the exact domains. DMARC passes when
//     SPF passed for an aligned MAIL FROM domain or any DKIM signature
//     passed for an aligned d= (§4.2).
//   - Policy: p for the domain that published the record; sp (or p when sp
//     is absent) when the record was found at the organizational domain for
//     a From subdomain (§6.3). pct (§6.6.4): a message outside the sampled
//     percentage gets the next weaker policy (reject → quarantine →
//     none).
//   - Temporary errors: when DMARC would fail but an SPF or DKIM check of an
//     aligned domain, or the record lookup, ended in temperror, the result
//     is temperror, and nothing is enforced. RFC 7489 §6.6.3 leaves DNS
//     errors to the receiver; we accept the message (with dmarc=temperror
//     in Authentication-Results) rather than answer 451, because a
//     sender's persistently broken DNS would otherwise delay its mail until
//     it bounces, and because a message that passes nothing aligned is
//     still subject to the other checks and to the user's filters.
//   - A record that does not parse is permerror (RFC 8601 §2.7.1) and
//     nothing is enforced.
//
// Reports (rua, ruf) are not sent.
package dmarc

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"

	msgdmarc "github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"

	"github.com/posthorn/posthorn/internal/dns"
)

// Status is a DMARC result, named as in Authentication-Results (RFC 8601
// §2.7.1, RFC 7489 §11.2).
type Status string

const (
	StatusNone      Status = "none"
	StatusPass      Status = "pass"
	StatusFail      Status = "fail"
	StatusTempError Status = "temperror"
	StatusPermError Status = "permerror"
)

// Policy is what a domain asks receivers to do with failing mail.
type Policy string

const (
	PolicyNone       Policy = "none"
	PolicyQuarantine Policy = "quarantine"
	PolicyReject     Policy = "reject"
)

// Identity is one authenticated domain and whether its check passed.
type Identity struct {
	Domain string
	// Pass: SPF pass, or a DKIM signature that verified.
	Pass bool
	// TempError: the check could not be completed now (temperror).
	TempError bool
}

// Input is what Evaluate needs from the other checks.
type Input struct {
	// FromDomain is the domain of the RFC 5322 From field's address.
	FromDomain string
	// SPF is the MAIL FROM identity's result (for the null sender, the
	// HELO identity's, RFC 7489 §4.1 footnote).
	SPF Identity
	// DKIM has one entry per DKIM-Signature (its d=).
	DKIM []Identity
}

// Result is the DMARC verdict.
type Result struct {
	Status Status
	// Domain is the From domain (header.from in Authentication-Results).
	Domain string
	// RecordDomain is where the policy record was found: Domain or its
	// organizational domain; "" without a record.
	RecordDomain string
	// Requested is the policy the record asks for this domain (p or sp).
	Requested Policy
	// Policy is what to apply: PolicyNone unless Status is fail, and
	// Requested weakened by pct sampling.
	Policy Policy
	// Sampled is false when pct excluded the message and Policy was
	// weakened.
	Sampled bool
	// SPFAligned and DKIMAligned say which aligned identifiers passed.
	SPFAligned, DKIMAligned bool
	// Err says why the status is not pass, for logs.
	Err error
}

// Evaluator evaluates DMARC. The zero value is not usable: set Resolver.
type Evaluator struct {
	Resolver dns.Resolver
	// Percent returns a number in [0, 100) for pct sampling; nil draws
	// uniformly at random.
	Percent func() int
}

// Evaluate returns the DMARC verdict for a message.
func (e *Evaluator) Evaluate(ctx context.Context, in Input) Result {
	return e.Apply(e.Discover(ctx, in.FromDomain), in)
}

// Discovery is the outcome of policy discovery for one From domain: a record
// or the error that stands for none.
type Discovery struct {
	from      string
	rec       *msgdmarc.Record
	recDomain string
	err       error
}

// Discover looks up the policy of the From domain (RFC 7489 §6.6.3). It
// needs nothing from SPF or DKIM, so a caller can run it concurrently with
// them and then Apply.
func (e *Evaluator) Discover(ctx context.Context, fromDomain string) *Discovery {
	from := normalize(fromDomain)
	if from == "" {
		return &Discovery{err: errNoFrom}
	}
	rec, recDomain, err := e.lookup(ctx, from)
	return &Discovery{from: from, rec: rec, recDomain: recDomain, err: err}
}

var errNoFrom = errors.New("dmarc: no From domain")

// Apply evaluates in against a discovered policy (in.FromDomain is not
// used: d says which domain it is for).
func (e *Evaluator) Apply(d *Discovery, in Input) Result {
	from, rec, recDomain, err := d.from, d.rec, d.recDomain, d.err
	res := Result{Status: StatusNone, Domain: from, Policy: PolicyNone, Sampled: true}
	switch {
	case errors.Is(err, errNoFrom):
		res.Err = err
		return res
	case err != nil && dns.IsTemporary(err):
		res.Status, res.Err = StatusTempError, err
		return res
	case errors.Is(err, errNoRecord):
		res.Err = err
		return res
	case err != nil:
		res.Status, res.Err = StatusPermError, err
		return res
	}
	res.RecordDomain = recDomain
	res.Requested = Policy(rec.Policy)
	if recDomain != from && rec.SubdomainPolicy != "" {
		res.Requested = Policy(rec.SubdomainPolicy)
	}

	temp := false
	if in.SPF.Domain != "" && Aligned(normalize(in.SPF.Domain), from, rec.SPFAlignment == msgdmarc.AlignmentStrict) {
		res.SPFAligned = in.SPF.Pass
		temp = temp || in.SPF.TempError
	}
	for _, d := range in.DKIM {
		if Aligned(normalize(d.Domain), from, rec.DKIMAlignment == msgdmarc.AlignmentStrict) {
			res.DKIMAligned = res.DKIMAligned || d.Pass
			temp = temp || d.TempError
		}
	}
	switch {
	case res.SPFAligned || res.DKIMAligned:
		res.Status = StatusPass
		return res
	case temp:
		res.Status, res.Err = StatusTempError, errors.New("dmarc: no aligned pass, and an aligned check had a temporary error")
		return res
	}
	res.Status = StatusFail
	res.Err = errors.New("dmarc: neither SPF nor DKIM passed for a domain aligned with From")
	res.Policy = res.Requested
	if rec.Percent != nil && *rec.Percent < 100 && e.percent() >= *rec.Percent {
		res.Sampled = false
		switch res.Policy {
		case PolicyReject:
			res.Policy = PolicyQuarantine
		case PolicyQuarantine:
			res.Policy = PolicyNone
		}
	}
	return res
}

func (e *Evaluator) percent() int {
	if e.Percent != nil {
		return e.Percent()
	}
	return rand.IntN(100)
}

var errNoRecord = errors.New("dmarc: no policy record")

// lookup finds the policy record for from (RFC 7489 §6.6.3).
func (e *Evaluator) lookup(ctx context.Context, from string) (*msgdmarc.Record, string, error) {
	rec, err := e.lookupAt(ctx, from)
	if !errors.Is(err, errNoRecord) {
		return rec, from, err
	}
	org := OrgDomain(from)
	if org == from {
		return nil, "", err
	}
	rec, err = e.lookupAt(ctx, org)
	return rec, org, err
}

func (e *Evaluator) lookupAt(ctx context.Context, domain string) (*msgdmarc.Record, error) {
	txts, _, err := e.Resolver.LookupTXT(ctx, "_dmarc."+domain)
	if dns.IsNotFound(err) {
		return nil, errNoRecord
	}
	if err != nil {
		return nil, err
	}
	var found []string
	for _, t := range txts {
		if isDMARC(t) {
			found = append(found, t)
		}
	}
	if len(found) != 1 {
		// §6.6.3: none, or more than one, is no policy.
		return nil, errNoRecord
	}
	return ParseRecord(found[0])
}

// isDMARC reports whether a TXT record is a DMARC record: "v" must be the
// first tag and its value "DMARC1" (RFC 7489 §6.4, §6.6.3).
func isDMARC(txt string) bool {
	tag, rest, ok := strings.Cut(txt, "=")
	if !ok || strings.TrimSpace(tag) != "v" {
		return false
	}
	v, _, _ := strings.Cut(rest, ";")
	return strings.TrimSpace(v) == "DMARC1"
}

// ParseRecord parses a DMARC record strictly: v=DMARC1 first, then the
// tags of RFC 7489 §6.3 as go-msgauth reads them (p required).
func ParseRecord(txt string) (*msgdmarc.Record, error) {
	if !isDMARC(txt) {
		return nil, errors.New("dmarc: record does not start with v=DMARC1")
	}
	rec, err := msgdmarc.Parse(txt)
	if err != nil {
		return nil, fmt.Errorf("dmarc: %v", err)
	}
	if rec.SubdomainPolicy != "" && !validPolicy(Policy(rec.SubdomainPolicy)) || !validPolicy(Policy(rec.Policy)) {
		return nil, errors.New("dmarc: invalid policy")
	}
	return rec, nil
}

func validPolicy(p Policy) bool {
	return p == PolicyNone || p == PolicyQuarantine || p == PolicyReject
}

// OrgDomain returns the organizational domain of domain (RFC 7489 §3.2):
// the public suffix plus one label. A name that is itself a public suffix
// (or that the list cannot place) is its own organizational domain.
func OrgDomain(domain string) string {
	domain = normalize(domain)
	org, err := publicsuffix.EffectiveTLDPlusOne(domain)
	if err != nil {
		return domain
	}
	return org
}

// Aligned reports whether an authenticated domain is aligned with the
// From domain (RFC 7489 §3.1): equal in strict mode, the same
// organizational domain in relaxed mode.
func Aligned(authDomain, fromDomain string, strict bool) bool {
	authDomain, fromDomain = normalize(authDomain), normalize(fromDomain)
	if authDomain == "" || fromDomain == "" {
		return false
	}
	if strict {
		return authDomain == fromDomain
	}
	return authDomain == fromDomain || OrgDomain(authDomain) == OrgDomain(fromDomain)
}

// normalize lower-cases d and turns U-labels into A-labels (RFC 5891), so
// that a From domain written in Unicode (SMTPUTF8) aligns with the ASCII
// form DKIM's d= and DNS use.
func normalize(d string) string {
	d = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
	for i := 0; i < len(d); i++ {
		if d[i] >= 0x80 {
			if a, err := idna.Lookup.ToASCII(d); err == nil {
				return a
			}
			return d
		}
	}
	return d
}

// Normalize returns domain lower-cased, without a trailing dot, and with
// U-labels turned into A-labels: the form OrgDomain and IsPublicSuffix
// compare in, and DKIM's d= uses.
func Normalize(domain string) string { return normalize(domain) }

// IsPublicSuffix reports whether domain is itself a public suffix (as
// "com" or "co.uk", or a name the list cannot place): no organizational
// domain of its own, never to be signed or aligned for.
func IsPublicSuffix(domain string) bool {
	domain = normalize(domain)
	ps, _ := publicsuffix.PublicSuffix(domain)
	return ps == domain
}
