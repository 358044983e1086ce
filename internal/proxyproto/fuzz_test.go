package proxyproto

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzReadHeader feeds readHeader arbitrary connection openings: it must
// not panic, and when it accepts one, the addresses must be usable and
// the bytes after the header must reach the reader unchanged. Seeds are
// in testdata/fuzz/FuzzReadHeader.
func FuzzReadHeader(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		server, client := net.Pipe()
		defer server.Close()
		go func() {
			client.Write(data)
			client.Close()
		}()
		c, err := readHeader(server, 5*time.Second)
		if err != nil {
			return
		}
		if c.RemoteAddr() == nil || c.LocalAddr() == nil || c.RemoteAddr().String() == "" || c.LocalAddr().String() == "" {
			t.Fatalf("accepted header with unusable addresses %v %v", c.RemoteAddr(), c.LocalAddr())
		}
		rest, _ := io.ReadAll(c)
		if !bytes.HasSuffix(data, rest) {
			t.Fatalf("bytes after the header changed: read %q of %q", rest, data)
		}
		if n := len(data) - len(rest); n > 16+4096 {
			t.Fatalf("a %d-byte header accepted", n)
		}
	})
}
