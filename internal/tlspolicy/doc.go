// Package tlspolicy decides how outbound SMTP connections must be
// protected: MTA-STS (RFC 8461), DANE for SMTP (RFC 7672) and REQUIRETLS
// (RFC 8689). The delivery client asks, per message and destination:
//
//	req, _ := policy.Lookup(ctx, domain)        // once per domain: MTA-STS
//	for each MX host h (dns.MailHosts order):
//	    if !req.AllowMX(h.Name) { skip }        // MTA-STS enforce
//	    hp, err := policy.Host(ctx, req, h, tlspolicy.Message{RequireTLS: ...})
//	    if err != nil { try the next host; the message waits }
//	    STARTTLS with hp.TLSConfig(nil)         // checks run in VerifyConnection
//	    no STARTTLS or it failed: hp.Plaintext() must be nil to go on
//	    after EHLO over TLS: hp.CheckREQUIRETLS(server advertises it)
//
// DANE applies when the MX answer and the TLSA answer are DNSSEC-
// authenticated, as reported by internal/dns (which believes the AD bit
// only of a configured validating resolver); usable records (DANE-TA,
// DANE-EE) make TLS mandatory and verified, unusable ones mandatory only.
// It takes precedence over MTA-STS. A TLSA lookup that fails temporarily
// defers delivery to that host.
//
// MTA-STS policies are fetched over HTTPS from mta-sts.DOMAIN (resolved
// through the same Resolver; no redirects, 200 and text/plain only, 64
// KiB at most, one minute), parsed strictly, and cached in memory and in
// Options.CacheDir (one JSON file per domain, written with fsync) until
// max_age runs out. A changed id in the TXT record triggers a new fetch;
// a failed fetch keeps the cached policy and is not retried for the same
// id for five minutes; concurrent lookups of a domain share one fetch.
// Mode testing only logs failed checks.
//
// A message with "TLS-Required: No" (RFC 8689 §5, see TLSOptional) and
// without REQUIRETLS gets opportunistic TLS whatever the domain publishes;
// the client keeps its connections apart and skips AllowMX for it.
//
// Every failure is an *Error, temporary: a message whose policy demands
// TLS that cannot be had waits in the queue and never goes out in
// plaintext; the queue's give-up time ends the wait with a bounce.
package tlspolicy
