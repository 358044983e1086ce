// Package delivery makes one delivery attempt of one message to the
// recipients of one destination domain: it finds the next hop (a
// configured route, or the domain's MX hosts through internal/dns),
// applies the TLS policy, and sends through internal/smtpclient over a
// connection it dials or reuses.
//
// Next hops (RFC 5321 §5.1): MX hosts in preference order (equal
// preferences shuffled by the resolver), each host's addresses IPv6 first
// then IPv4; without MX the domain itself (implicit MX); a null MX (RFC
// 7505) fails the recipients at once with 556 5.1.10; a domain that does
// not exist fails them with 550 5.1.2; a DNS failure is temporary (451
// 4.4.3). An MX host that is our own host name is skipped (mail would
// loop); when none is left the recipients fail with 5.4.6. A route
// replaces the MX lookup with a fixed host:port (e.g. a smarthost, with
// AUTH PLAIN over TLS).
//
// Connections: per destination (domain, or route) at most
// MaxPerDestination deliveries run at once, and a connection that ended
// its transaction cleanly waits up to IdleTimeout for the next message to
// the same destination (reuse), up to MaxReuse messages. A reused
// connection that turns out dead before MAIL is answered is replaced by a
// fresh one.
//
// Test seam: Options.Port (25 in production) is the port dialled at every
// MX address, so a test's DNS server (dns/dnstest) can point MX hosts at
// 127.0.0.x addresses where the test listens on one shared port.
package delivery
