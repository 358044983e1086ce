// Package imap holds posthorn's IMAP wire types and codec: a streaming
// command reader, typed arguments, a response writer, sequence sets, search
// keys, fetch attributes and the modified UTF-7 mailbox name codec. It has no
// I/O policy: it never writes a continuation or decides what to refuse; the
// engine (package imapserver) does, through ReaderOptions.Literal.
//
// posthorn owns this layer rather than reusing go-imap/v2 because CONDSTORE
// and QRESYNC need changes inside that library's private codec (see
// LIBRARIES.md).
//
// Grammar references, cited beside the code:
//   - RFC 9051 §9 (IMAP4rev2 formal syntax) and RFC 3501 §9 (IMAP4rev1);
//   - RFC 3501 §5.1.3 for modified UTF-7 mailbox names;
//   - RFC 7888 for LITERAL+ / LITERAL- non-synchronizing literals;
//   - RFC 3516 for BINARY and literal8; RFC 6855 for UTF8 APPEND;
//   - RFC 7162 for CONDSTORE/QRESYNC (CHANGEDSINCE, UNCHANGEDSINCE, MODSEQ,
//     VANISHED, SELECT parameters);
//   - RFC 5258 and RFC 5819 for LIST-EXTENDED and LIST-STATUS;
//   - RFC 3502 for MULTIAPPEND; RFC 4731 and RFC 5182 for ESEARCH and
//     SEARCHRES ("$"); RFC 5032 for OLDER/YOUNGER; RFC 6154 for CREATE USE.
package imap
