// Package dns is posthorn's DNS layer: the Resolver interface every package
// uses, and Client, its implementation on github.com/miekg/dns.
//
// What it provides, and where each rule comes from:
//
//   - MX lookups sorted by preference with equal preferences shuffled by an
//     injectable source (RFC 5321 §5.1); MailHosts adds the implicit MX
//     (the domain itself when it has no MX, RFC 5321 §5.1) and recognises
//     the null MX (RFC 7505) as ErrNullMX.
//   - A/AAAA (LookupIP), TXT (strings of a record joined, RFC 6376
//     §3.6.2.2, RFC 7208 §3.3), PTR (LookupAddr), TLSA for DANE (RFC 6698,
//     RFC 7672) and the canonical name after CNAMEs (RFC 1034 §3.6.2).
//   - Typed errors: ErrNXDomain (RCODE 3), ErrNoRecords (NODATA, RFC 2308
//     §2.2), ErrTemporary (SERVFAIL, REFUSED, timeouts), ErrInvalidName,
//     all inside *Error, which is also a net.Error; NetError converts to
//     *net.DNSError for libraries that want that type, and NetResolver
//     gives a Resolver the method set of *net.Resolver for libraries that
//     take that shape (SPF), so every lookup shares one cache.
//   - DNSSEC: queries carry EDNS0 with DO (RFC 3225) and AD (RFC 6840
//     §5.7). Nothing here validates signatures. The AD bit of an answer is
//     believed only when Config.TrustAD says the configured servers
//     validate (a local unbound, say), as Postfix does with
//     smtp_dns_support_level=dnssec; Result.Authentic is false otherwise.
//     An answer assembled over several queries (CNAME targets) is
//     authentic only when every part was.
//
// Transport: UDP with a 1232-byte EDNS0 buffer (the DNS flag day 2020
// value), TCP when the answer is truncated (RFC 7766 §5), each attempt
// bounded by Config.Timeout and the caller's context (its cancellation
// interrupts a pending read), servers tried in order. Answers must match
// the question asked.
//
// Cache: final answers (records, NXDOMAIN, NODATA) are kept until their TTL
// runs out, negative ones per RFC 2308 §5 (the SOA's TTL capped by its
// MINIMUM; not cached without an SOA), at most Config.MaxTTL, in a bounded
// LRU of Config.CacheSize entries. Failures are never cached. The cache
// stores whole responses, so MX order is shuffled anew on every lookup.
// Identical queries made while one is in flight wait for its answer rather
// than asking again; if the first caller gives up, a waiting caller whose
// context is still alive asks for itself.
//
// Names are accepted with or without the trailing dot and in U-labels
// (converted to A-labels, RFC 5891); names returned are lower case without
// the trailing dot.
//
// Tests run against dnstest, a real DNS server on 127.0.0.1.
package dns
