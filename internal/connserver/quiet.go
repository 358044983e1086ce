package connserver

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"syscall"
)

// SessionLevel is the level of the line that logs the end of a session
// on raw, the accepted connection, whose TLS handshake (implicit TLS)
// failed with handshakeErr, nil if it did not fail. Debug for a load
// balancer's own connections (a PROXY v2 LOCAL header, proxyproto.Conn's
// Local: its health checks) and for handshakes that ended in EOF or a
// connection reset (a check or port probe that connects and hangs up);
// Info for every other session, a handshake with garbage among them.
func SessionLevel(raw net.Conn, handshakeErr error) slog.Level {
	if lc, ok := raw.(interface{ Local() bool }); ok && lc.Local() {
		return slog.LevelDebug
	}
	if handshakeErr != nil && (errors.Is(handshakeErr, io.EOF) || errors.Is(handshakeErr, io.ErrUnexpectedEOF) ||
		errors.Is(handshakeErr, syscall.ECONNRESET)) {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}
