package imap_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/posthorn/posthorn/internal/imap"
)

// A server loop reads commands, sends "+" for synchronizing literals from
// the Literal hook, and answers errors with the status the Error carries.
func Example() {
	in := "a1 LOGIN alice {6}\r\nsecret\r\na2 FETCH 1:* (FLAGS BODY.PEEK[HEADER])\r\na3 FROB\r\n"
	out := bufio.NewWriter(lf{os.Stdout})
	w := imap.NewWriter(out)
	r := imap.NewReader(bufio.NewReader(strings.NewReader(in)), imap.ReaderOptions{
		Literal: func(l imap.Literal) error {
			if !l.NonSync {
				w.Continue("Ready")
				return w.Flush()
			}
			return nil
		},
	})
	for {
		cmd, err := r.ReadCommand()
		if err != nil {
			if e := imap.AsError(err); e != nil {
				w.Error(e)
				continue
			}
			break // EOF or I/O error
		}
		switch a := cmd.Args.(type) {
		case *imap.LoginArgs:
			w.Status(cmd.Tag, imap.OK, "", "LOGIN as "+a.Username)
		case *imap.FetchArgs:
			w.Status(cmd.Tag, imap.OK, "", fmt.Sprintf("FETCH %s %d items, last %s", a.Set, len(a.Items), a.Items[1]))
		}
	}
	w.Flush()
	// Output:
	// + Ready
	// a1 OK LOGIN as alice
	// a2 OK FETCH 1:* 2 items, last BODY.PEEK[HEADER]
	// a3 BAD unknown command FROB
}

// lf shows CRLF as LF, for the example's output.
type lf struct{ w io.Writer }

func (l lf) Write(p []byte) (int, error) {
	_, err := l.w.Write(bytes.ReplaceAll(p, []byte("\r\n"), []byte("\n")))
	return len(p), err
}
