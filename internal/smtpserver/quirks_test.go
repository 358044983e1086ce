package smtpserver

import (
	"testing"
	"time"
)

// TestGoSMTPDataReaderQuirks pins two bugs of go-smtp v0.25.1's DATA
// reader (data.go), documented in the package doc. When an upgrade fixes
// them this test fails: then update the doc and turn the expectations
// around (both messages should then be refused with 550 5.6.0).
func TestGoSMTPDataReaderQuirks(t *testing.T) {
	t.Parallel()
	be := &fakeBackend{}
	_, addr := startServer(t, Options{DataBlockTimeout: 300 * time.Millisecond}, be)
	start := func() *client {
		c := dialGreeted(t, addr)
		c.Write("EHLO a\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
		for _, w := range []string{"250 ", "250 ", "250 ", "354 "} {
			c.ExpectReply(w)
		}
		return c
	}

	// "." CR at the start of a line followed by anything but LF: go-smtp
	// drops both octets instead of keeping the (bare) CR, so the bare CR
	// check never sees it.
	c := start()
	c.Write("a\r\n.\rX\r\n.\r\n")
	c.ExpectReply("250 ")
	if msgs := be.messages(); len(msgs) != 1 || string(msgs[0].body) != "a\r\nX\r\n" {
		t.Errorf("stored %+v; go-smtp's dot-CR handling changed", msgs)
	}

	// A CR right before CRLF "." CRLF: go-smtp loses the CR state and does
	// not see the end of data; the session times out.
	c = start()
	c.Write("x\r\r\n.\r\n")
	c.ExpectReply("421 4.4.2")
}
