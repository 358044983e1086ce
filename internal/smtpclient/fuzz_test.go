package smtpclient

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// FuzzReadReply: any bytes from a server give a reply with a valid code
// and single-line text, or an error; never a panic.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"250 ok\r\n", "250-a\r\n250-b\r\n250 c\r\n", "550 5.1.1 no\r\n", "451-4.3.0 a\r\n451 4.3.0 b\r\n",
		"250-x\r\n251 y\r\n", "25\r\n", "999 x\r\n", "220\r\n", "250 2.0.0\r\n", "550 4.1.1 class mismatch\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, lines, err := readReply(bufio.NewReader(strings.NewReader(string(data))))
		if err != nil {
			return
		}
		if rep.Code < 200 || rep.Code > 599 || len(lines) == 0 || len(lines) > maxReplyLines {
			t.Fatalf("reply %+v from %q", rep, data)
		}
		if strings.ContainsAny(rep.Text, "\r\n") {
			t.Fatalf("text with a line break: %q", rep.Text)
		}
		if rep.Enhanced[0] != 0 && rep.Enhanced[0] != rep.Code/100 {
			t.Fatalf("enhanced code %v with reply code %d", rep.Enhanced, rep.Code)
		}
	})
}
