package smtpserver

import (
	"bytes"
	"errors"
	"io"
)

// headroom is the space kept in front of a message body for the trace
// headers the policy prepends (Message.WithTrace), so that adding them does
// not copy the body.
const headroom = 1024

// Message buffers start at initialBuf and grow by doubling up to the size
// limit. Buffers larger than maxPooledBuf are left to the GC instead of the
// pool, so one huge message does not pin memory.
const (
	initialBuf   = 64 << 10
	maxPooledBuf = 1 << 20
)

var errTooBig = errors.New("message exceeds size limit")

// msgBuf is a pooled message buffer: b[off:] is the body.
type msgBuf struct {
	b   []byte
	off int
}

func (s *Server) getBuf() *msgBuf {
	if mb, ok := s.bufs.Get().(*msgBuf); ok {
		mb.b = mb.b[:headroom]
		mb.off = headroom
		return mb
	}
	return &msgBuf{b: make([]byte, headroom, initialBuf), off: headroom}
}

func (s *Server) putBuf(mb *msgBuf) {
	if mb == nil || cap(mb.b) > maxPooledBuf {
		return
	}
	s.bufs.Put(mb)
}

// readMessage reads r to its end into a pooled buffer, at most
// MaxMessageBytes. go-smtp's DATA reader has already removed the
// dot-stuffing and the end-of-data line (RFC 5321 §4.5.2); BDAT data
// (RFC 3030) arrives as sent. Line endings are kept exactly.
func (s *Server) readMessage(r io.Reader) (*msgBuf, error) {
	mb := s.getBuf()
	limit := headroom + int(s.opts.MaxMessageBytes)
	b := mb.b
	for {
		if len(b) == cap(b) {
			if len(b) > limit {
				mb.b = b
				return mb, errTooBig
			}
			nc := 2 * cap(b)
			if nc > limit+1 {
				nc = limit + 1 // one byte more than allowed detects overflow
			}
			nb := make([]byte, len(b), nc)
			copy(nb, b)
			b = nb
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if len(b) > limit {
			mb.b = b
			return mb, errTooBig
		}
		if err == io.EOF {
			mb.b = b
			return mb, nil
		}
		if err != nil {
			mb.b = b
			return mb, err
		}
	}
}

var lf = []byte{'\n'}

// hasBareNewline reports whether b has a CR not followed by LF or an LF
// not preceded by CR (RFC 5321 §2.3.8). Every CR must start a CRLF pair;
// then the LFs are all paired exactly when there are as many as CRs.
func hasBareNewline(b []byte) bool {
	crs := 0
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '\r')
		if j < 0 {
			break
		}
		i += j
		if i+1 >= len(b) || b[i+1] != '\n' {
			return true
		}
		crs++
		i += 2
	}
	return bytes.Count(b, lf) != crs
}
