// Package message computes the MIME structure IMAP needs from a stored
// message, once, at delivery: the part tree with byte offsets into the raw
// message, the ENVELOPE, and the BODYSTRUCTURE and BODY values (RFC 9051
// §7.5.2; RFC 3501 §7.4.2). The result is serialised with Marshal and
// cached next to the message (LIBRARIES.md: cache ENVELOPE and
// BODYSTRUCTURE at delivery rather than reparsing per FETCH), so that FETCH
// BODY[1.2.MIME], BODY[2.HEADER.FIELDS (...)], BODY[TEXT], partial fetches
// and BINARY (RFC 3516) are served by slicing the raw message
// (Part.Section, Part.Binary, imap.Partial.Slice).
//
// BODYSTRUCTURE comes in two forms: AppendBodyStructure for IMAP4rev2,
// where message/global parts carry an envelope like message/rfc822 (RFC
// 9051 §9 media-message), and AppendBodyStructureRev1 for IMAP4rev1
// clients, whose grammar only knows MESSAGE/RFC822 (RFC 3501 §9).
//
// Parsing follows RFC 5322 (header fields, unfolding, §2.2.3; addresses and
// groups, §3.4, with the obsolete route syntax of §4.4), RFC 2045 (header
// fields of MIME parts, Content-Transfer-Encoding), RFC 2046 §5.1 (multipart
// delimiters, preamble and epilogue; digest defaults to message/rfc822), RFC
// 2183 (Content-Disposition), RFC 3282 (Content-Language), RFC 2557
// (Content-Location) and RFC 2231 (parameter continuations, joined as
// Dovecot does). Encoded words (RFC 2047) are left to clients: the envelope
// carries raw header values.
//
// Parse never panics and never fails on malformed MIME: missing or
// unclosed boundaries, header lines without a colon, 8-bit garbage and
// nesting beyond MaxDepth all degrade to a valid structure. The reference
// for such cases is Dovecot 2.3 (testdata/golden, recorded by
// testdata/golden.py); where Dovecot deviates from RFC 9051 the RFC wins and
// the test says so.
//
// The parser is our own rather than go-message's because IMAP needs exact
// byte offsets of every part's header and body, which go-message's
// streaming reader does not expose.
package message
