// Package dkim signs and verifies DomainKeys Identified Mail (RFC 6376)
// with RSA-SHA256 and Ed25519-SHA256 (RFC 8463), on
// github.com/emersion/go-msgauth/dkim, with posthorn's policy around it.
//
// # Keys
//
// GenerateKey makes RSA-2048 or Ed25519 keys as PKCS #8 PEM together with
// the DNS record text ("v=DKIM1; k=ed25519; p=..."); TXTStrings splits a
// record into 255-byte character-strings and ZoneEntry writes the zone-file
// line at selector._domainkey.domain (RFC 6376 §3.6.2.1). ParsePrivateKey
// and LoadKey read PKCS #8 or PKCS #1 PEM. RSA keys under 1024 bits are
// refused for signing and verifying (RFC 8301 §3.2); rsa-sha1 is refused
// (RFC 8301 §3.1).
//
// # Signing
//
// A Signer holds any number of keys per domain and signs with all keys of
// the sender's domain, so RSA and Ed25519 signatures go side by side
// (RFC 8463 §4) and selectors can be rotated by adding the new key before
// removing the old one. Canonicalization is relaxed/relaxed (RFC 6376
// §3.4.2, §3.4.4). The header fields signed are those of RFC 6376 §5.4.1
// present in the message, and the fields that change what a reader sees
// (From, To, Cc, Subject, Date, Reply-To, Message-ID, the MIME fields, ...)
// are oversigned (§5.4.2): listed once more than they occur, so adding one
// breaks the signature. No l= is ever written.
//
// # Verifying
//
// Verify returns one Result per DKIM-Signature field with the statuses of
// RFC 8601 §2.7.1 (pass, fail, policy, temperror, permerror; no fields is
// "none"). Each field is first parsed strictly by ParseSignature (RFC 6376
// §3.2 tag-list syntax, duplicate tags, required tags, algorithms,
// i= within d=, From in h=, x= after t=): a field it refuses is permerror
// whatever the cryptography says. Keys are looked up through
// internal/dns (its cache is the key cache); a temporary DNS failure is
// temperror, NXDOMAIN or no record permerror (RFC 6376 §6.1.2); a key
// flagged t=s refuses an i= in a subdomain of d= (§3.6.1). x= is
// honoured with the Verifier's clock (and go-msgauth's own): an expired
// signature is permerror. At most MaxSignatures fields are checked.
//
// The l= (body length) policy: a signature with l= never passes; its
// status is "policy". With l= anyone can append content after the signed
// part (a new MIME part, a different HTML body) and keep the signature
// valid, so "ignore the unsigned tail" would let a forged tail ride on a
// real domain's pass, and DMARC would apply that pass to the whole
// message. go-msgauth refuses l= as well; "policy" rather than "fail"
// records that the signature may be cryptographically fine but is not
// acceptable here (RFC 8601 §2.7.1). Senders that use l= are rare today.
package dkim
