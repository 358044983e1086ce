package mx

import (
	"bytes"
	"context"
	"net/mail"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	msgauthres "github.com/emersion/go-msgauth/authres"

	"github.com/posthorn/posthorn/internal/arc"
	"github.com/posthorn/posthorn/internal/authres"
	"github.com/posthorn/posthorn/internal/dkim"
	"github.com/posthorn/posthorn/internal/dmarc"
	"github.com/posthorn/posthorn/internal/dns"
	"github.com/posthorn/posthorn/internal/dnsbl"
	"github.com/posthorn/posthorn/internal/greylist"
	"github.com/posthorn/posthorn/internal/iprev"
	"github.com/posthorn/posthorn/internal/smtp"
	"github.com/posthorn/posthorn/internal/smtpserver"
	"github.com/posthorn/posthorn/internal/spf"
	"github.com/posthorn/posthorn/internal/store"
)

// Checks configure the verification of received mail (see the package
// doc). A nil *Checks in Options turns every check off: no lookups and no
// Authentication-Results field.
type Checks struct {
	// Resolver does every lookup; its cache serves all sessions.
	Resolver dns.Resolver
	// EnforceDMARC applies DMARC policies (reject → 550, quarantine →
	// Junk); false only records the verdict.
	EnforceDMARC bool
	// TrustedNetworks are clients whose mail is not checked.
	TrustedNetworks []netip.Prefix
	// TrustedForwarders are clients whose mail DMARC never rejects or
	// quarantines.
	TrustedForwarders []netip.Prefix
	// TrustedSealers are ARC sealing domains (RFC 8617) whose passing
	// chain exempts a message from DMARC rejection and quarantine: the
	// mailing lists and forwarders that are known to break DKIM/SPF but
	// report what they verified.
	TrustedSealers []string
	// QuarantineInsteadOfReject lists From domains (or their
	// organizational domains) whose reject policy is applied as
	// quarantine.
	QuarantineInsteadOfReject []string
	// DNSBL zones to look the client up in; DNSBLReject refuses a listed
	// client at MAIL, otherwise the zones go into an X-Posthorn-DNSBL
	// header field.
	DNSBL       []string
	DNSBLReject bool
	// Greylist, when set, greylists recipients (RFC 6647) at RCPT with
	// 451 4.7.1, except for clients in GreylistAllow and senders whose
	// domain is in GreylistAllowDomains.
	Greylist             *greylist.List
	GreylistAllow        []netip.Prefix
	GreylistAllowDomains []string
	// Timeout bounds the lookups of one message's checks (default 20s).
	Timeout time.Duration
	// DMARCPercent draws pct samples (default random); Now is the DKIM
	// expiry clock (default time.Now). For tests.
	DMARCPercent func() int
	Now          func() time.Time
}

// Replies of the checks.
var (
	replyBlocklisted = &smtp.Reply{Code: 554, Enhanced: smtp.EnhancedCode{5, 7, 1}, Text: "Client address listed in a DNS blocklist"}
	replyDMARCReject = &smtp.Reply{Code: 550, Enhanced: smtp.EnhancedCode{5, 7, 1}, Text: "Message rejected: it fails the DMARC policy of its From domain"}
	replyGreylisted  = &smtp.Reply{Code: 451, Enhanced: smtp.EnhancedCode{4, 7, 1}, Text: "Greylisted, please try again later"}
	replyManyFrom    = &smtp.Reply{Code: 550, Enhanced: smtp.EnhancedCode{5, 7, 1}, Text: "Message must have exactly one From header field, with few addresses"}
)

// maxFromDomains bounds the From domains whose DMARC policies are looked
// up; a message naming more is refused rather than letting it pick which
// ones are judged.
const maxFromDomains = 5

// connChecks are the per-client results, computed from the greeting on.
type connChecks struct {
	// The lookups start when the session does (the client's greeting)
	// and run while the client sends its next command; ready is closed
	// when they are done, cancel stops them.
	ready  chan struct{}
	cancel context.CancelFunc

	trusted bool
	iprev   iprev.Result
	listed  []string // DNSBL zones listing the client
	logged  bool     // the listing was logged
}

// verdict is what the checks decided for one message.
type verdict struct {
	results []authres.Result
	junk    bool // deliver into Junk
	reject  *smtp.Reply
}

func (c *Checks) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 20 * time.Second
}

func inPrefixes(ip netip.Addr, ps []netip.Prefix) bool {
	ip = ip.Unmap()
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// startClientChecks starts the client checks (iprev, DNSBL) of a new
// session in the background.
func (s *session) startClientChecks() {
	c := s.b.opts.Checks
	if c == nil {
		return
	}
	ip := s.ip()
	if s.cc.trusted = inPrefixes(ip, c.TrustedNetworks); s.cc.trusted {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout())
	s.cc.ready, s.cc.cancel = make(chan struct{}), cancel
	go func() {
		defer close(s.cc.ready)
		var wg sync.WaitGroup
		wg.Go(func() { s.cc.iprev = iprev.Check(ctx, c.Resolver, ip) })
		s.cc.listed = dnsbl.Check(ctx, c.Resolver, ip, c.DNSBL).Listed
		wg.Wait()
	}()
}

func (s *session) stopClientChecks() {
	if s.cc.cancel != nil {
		s.cc.cancel()
		<-s.cc.ready
		s.cc.cancel = nil
	}
}

// mailChecks waits for the client checks and refuses a blocklisted
// client (at every MAIL of the session).
func (s *session) mailChecks(ctx context.Context) error {
	c := s.b.opts.Checks
	if c == nil || s.cc.ready == nil {
		return nil
	}
	select {
	case <-s.cc.ready:
	case <-ctx.Done():
		return smtp.ReplyTempError
	}
	if s.cc.iprev.Status == iprev.Pass && s.rc.Name == "" && !strings.ContainsAny(s.cc.iprev.Name, " ()[]\\\"") {
		s.rc.Name = s.cc.iprev.Name
	}
	if len(s.cc.listed) > 0 {
		if !s.cc.logged {
			s.cc.logged = true
			s.b.log.Info("mx: client listed in DNSBL", "conn", s.ci.ID, "client", s.ip(), "zones", s.cc.listed)
		}
		if c.DNSBLReject {
			return replyBlocklisted
		}
	}
	return nil
}

// greylisted reports whether to refuse rcpt for now (RFC 6647).
func (s *session) greylisted(ctx context.Context, rcpt string) bool {
	c := s.b.opts.Checks
	if c == nil || c.Greylist == nil || s.cc.trusted || inPrefixes(s.ip(), c.GreylistAllow) {
		return false
	}
	if at := strings.LastIndexByte(s.from, '@'); at >= 0 && slices.Contains(c.GreylistAllowDomains, strings.ToLower(s.from[at+1:])) {
		return false
	}
	return !c.Greylist.Allow(ctx, s.ip(), s.from, rcpt)
}

func (s *session) ip() netip.Addr {
	a, _ := netip.AddrFromSlice(s.rc.IP)
	return a.Unmap()
}

// check runs SPF, DKIM and DMARC on a message and decides what to do.
func (s *session) check(ctx context.Context, helo string, body []byte) verdict {
	c := s.b.opts.Checks
	if s.cc.trusted {
		return verdict{}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	ip := s.ip()

	// The DMARC policies only need the From domains: discovered alongside
	// SPF, DKIM and ARC, so the checks wait for one round trip less.
	domains, nFrom := fromDomains(body)
	if len(domains) > maxFromDomains {
		return verdict{reject: replyManyFrom}
	}
	e := dmarc.Evaluator{Resolver: c.Resolver, Percent: c.DMARCPercent}
	policies := make([]*dmarc.Discovery, len(domains))
	var spfFrom, spfHelo spf.Result
	var wg sync.WaitGroup
	for i, d := range domains {
		wg.Go(func() { policies[i] = e.Discover(ctx, d) })
	}
	wg.Go(func() { spfFrom = spf.CheckMailFrom(ctx, c.Resolver, ip, helo, s.from) })
	wg.Go(func() { spfHelo = spf.CheckHelo(ctx, c.Resolver, ip, helo) })
	var chain arc.Result
	wg.Go(func() { chain = arc.Verify(ctx, c.Resolver, body) })
	v := dkim.Verifier{Resolver: c.Resolver, Now: c.Now}
	sigs, err := v.Verify(ctx, bytes.NewReader(body))
	if err != nil {
		sigs = nil // cannot happen for a byte slice
	}
	wg.Wait()

	var out verdict
	out.results = append(out.results, &msgauthres.GenericResult{Method: "iprev", Value: msgauthres.ResultValue(s.cc.iprev.Status),
		Params: map[string]string{"policy.iprev": ip.String()}})
	mailfrom := s.from
	if mailfrom == "" {
		mailfrom = "postmaster@" + helo
	}
	out.results = append(out.results,
		&msgauthres.SPFResult{Value: msgauthres.ResultValue(spfFrom.Status), From: mailfrom},
		&msgauthres.SPFResult{Value: msgauthres.ResultValue(spfHelo.Status), Helo: helo})

	in := dmarc.Input{SPF: dmarc.Identity{Domain: spfFrom.Domain, Pass: spfFrom.Status == spf.Pass, TempError: spfFrom.Status == spf.TempError}}
	if len(sigs) == 0 {
		out.results = append(out.results, &msgauthres.DKIMResult{Value: "none"})
	}
	for _, r := range sigs {
		params := map[string]string{}
		if r.Signature != nil {
			params["header.d"] = r.Signature.Domain
			params["header.i"] = r.Signature.Identifier
			params["header.s"] = r.Signature.Selector
			in.DKIM = append(in.DKIM, dmarc.Identity{Domain: r.Signature.Domain, Pass: r.Status == dkim.StatusPass, TempError: r.Status == dkim.StatusTempError})
		}
		out.results = append(out.results, &msgauthres.GenericResult{Method: "dkim", Value: msgauthres.ResultValue(r.Status), Params: params})
	}

	// GenericResult: go-msgauth v0.7.0 formats an ARCResult without its
	// method name.
	out.results = append(out.results, &msgauthres.GenericResult{Method: "arc", Value: msgauthres.ResultValue(chain.Status), Params: map[string]string{}})

	if nFrom > 1 {
		out.reject = replyManyFrom
		return out
	}
	worst := dmarc.Result{Status: dmarc.StatusNone}
	for _, p := range policies {
		r := e.Apply(p, in)
		out.results = append(out.results, &msgauthres.DMARCResult{Value: msgauthres.ResultValue(r.Status), From: r.Domain})
		if rank(r.Policy) > rank(worst.Policy) || worst.Domain == "" {
			worst = r
		}
	}
	if len(domains) == 0 {
		out.results = append(out.results, &msgauthres.DMARCResult{Value: "none"})
	}
	if !c.EnforceDMARC || worst.Status != dmarc.StatusFail || inPrefixes(ip, c.TrustedForwarders) || trustedChain(chain, c.TrustedSealers) {
		return out
	}
	switch worst.Policy {
	case dmarc.PolicyReject:
		if slices.Contains(c.QuarantineInsteadOfReject, worst.Domain) || slices.Contains(c.QuarantineInsteadOfReject, dmarc.OrgDomain(worst.Domain)) {
			out.junk = true
		} else {
			out.reject = replyDMARCReject
		}
	case dmarc.PolicyQuarantine:
		out.junk = true
	}
	if out.reject != nil || out.junk {
		s.b.log.Info("mx: DMARC policy applied", "conn", s.ci.ID, "from_domain", worst.Domain, "policy", worst.Policy, "reject", out.reject != nil)
	}
	return out
}

// trustedChain reports whether a passing ARC chain was sealed by a trusted
// domain (any of its sealers: each vouches for what it received).
func trustedChain(chain arc.Result, trusted []string) bool {
	if chain.Status != arc.Pass {
		return false
	}
	for _, d := range chain.Sealers {
		if slices.Contains(trusted, d) {
			return true
		}
	}
	return false
}

func rank(p dmarc.Policy) int {
	switch p {
	case dmarc.PolicyReject:
		return 2
	case dmarc.PolicyQuarantine:
		return 1
	}
	return 0
}

// fromDomains returns the distinct domains of the RFC 5322 From field's
// addresses and how many From fields the header has.
func fromDomains(body []byte) ([]string, int) {
	end := bytes.Index(body, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(body)
	} else {
		end += 4
	}
	m, err := mail.ReadMessage(bytes.NewReader(body[:end]))
	if err != nil {
		return nil, 0
	}
	froms := m.Header["From"]
	if len(froms) != 1 {
		return nil, len(froms)
	}
	var out []string
	add := func(d string) {
		d = strings.ToLower(strings.TrimRight(d, "."))
		if d != "" && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	if list, err := mail.ParseAddressList(froms[0]); err == nil {
		for _, a := range list {
			add(a.Address[strings.LastIndexByte(a.Address, '@')+1:])
		}
		return out, 1
	}
	// Unparsable (or a group): judge every domain written after an @, so
	// that a malformed From cannot dodge DMARC by hiding the one a reader
	// would display.
	v := froms[0]
	for i := strings.IndexByte(v, '@'); i >= 0; i = strings.IndexByte(v, '@') {
		v = v[i+1:]
		end := strings.IndexFunc(v, func(r rune) bool {
			return !(r == '.' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= 0x80)
		})
		if end < 0 {
			end = len(v)
		}
		add(v[:end])
	}
	return out, 1
}

// applyChecks runs the message checks when configured. It returns the
// body when our forged Authentication-Results fields had to be removed
// (nil: the message as received), the header fields to add, and the
// targets (Junk instead of INBOX for a quarantined message); or the reply
// refusing the message.
func (s *session) applyChecks(ctx context.Context, msg *smtpserver.Message) ([]byte, []byte, []store.Target, error) {
	c := s.b.opts.Checks
	if c == nil {
		return nil, nil, s.targets, nil
	}
	v := s.check(ctx, msg.Helo, msg.Body())
	if v.reject != nil {
		return nil, nil, nil, v.reject
	}
	var body []byte
	if stripped, found := authres.RemoveOurs(msg.Body(), s.b.opts.Hostname); found {
		body = stripped
	}
	fields := authres.AppendField(nil, s.b.opts.Hostname, v.results)
	if len(s.cc.listed) > 0 && !c.DNSBLReject {
		fields = append(fields, "X-Posthorn-DNSBL: "+strings.Join(s.cc.listed, ", ")+"\r\n"...)
	}
	targets := s.targets
	if v.junk {
		targets = s.junkTargets(ctx)
	}
	return body, fields, targets, nil
}

// junkTargets returns the targets with each account's Junk mailbox (the
// one with the \Junk special use, RFC 6154) instead of INBOX; a store
// without one gets "Junk", which the store turns into INBOX if missing.
func (s *session) junkTargets(ctx context.Context) []store.Target {
	out := make([]store.Target, len(s.targets))
	for i, t := range s.targets {
		t.Mailbox = "Junk"
		if mbs, err := s.b.opts.Store.Mailboxes(ctx, t.AccountID); err == nil {
			for _, mb := range mbs {
				if mb.SpecialUse == store.UseJunk {
					t.Mailbox = mb.Name
					break
				}
			}
		}
		out[i] = t
	}
	return out
}
