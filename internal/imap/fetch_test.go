package imap

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func TestFetchItemNames(t *testing.T) {
	tests := []struct{ in, request, response string }{
		{"BODY.PEEK[1.2.MIME]<0.100>", "BODY.PEEK[1.2.MIME]<0.100>", "BODY[1.2.MIME]<0>"},
		{"body[header.fields (date \"x y\")]", "BODY[HEADER.FIELDS (date \"x y\")]", "BODY[HEADER.FIELDS (date \"x y\")]"},
		{"BODY[2.HEADER.FIELDS.NOT (Subject)]<10.5>", "BODY[2.HEADER.FIELDS.NOT (Subject)]<10.5>", "BODY[2.HEADER.FIELDS.NOT (Subject)]<10>"},
		{"BODY[TEXT]", "BODY[TEXT]", "BODY[TEXT]"},
		{"BINARY.PEEK[]", "BINARY.PEEK[]", "BINARY[]"},
		{"binary.size[1.2]", "BINARY.SIZE[1.2]", "BINARY.SIZE[1.2]"},
		{"RFC822.HEADER", "RFC822.HEADER", "RFC822.HEADER"},
		{"MODSEQ", "MODSEQ", "MODSEQ"},
	}
	for _, tt := range tests {
		r := newTestReader(tt.in+"\r\n", ReaderOptions{})
		items, err := r.FetchItems()
		if err != nil || len(items) != 1 {
			t.Errorf("%q: %v %v", tt.in, items, err)
			continue
		}
		if got := items[0].String(); got != tt.request {
			t.Errorf("%q: String() = %q, want %q", tt.in, got, tt.request)
		}
		if got := string(items[0].AppendResponseName(nil)); got != tt.response {
			t.Errorf("%q: response name %q, want %q", tt.in, got, tt.response)
		}
	}
}

func TestFetchMacros(t *testing.T) {
	for macro, want := range map[string]string{
		"ALL":  "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE",
		"fast": "FLAGS INTERNALDATE RFC822.SIZE",
		"Full": "FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY",
	} {
		r := newTestReader(macro+"\r\n", ReaderOptions{})
		items, err := r.FetchItems()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, it := range items {
			names = append(names, it.String())
		}
		if got := strings.Join(names, " "); got != want {
			t.Errorf("%s = %s", macro, got)
		}
	}
}

func benchmarkRead(b *testing.B, line string) {
	in := strings.Repeat(line, 1000)
	b.SetBytes(int64(len(line)))
	var r *Reader
	for i := 0; b.Loop(); i++ {
		if i%1000 == 0 {
			r = NewReader(bufio.NewReader(bytes.NewReader([]byte(in))), ReaderOptions{})
		}
		if _, err := r.ReadCommand(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadFetch(b *testing.B) {
	benchmarkRead(b, "a42 UID FETCH 1:*,7,9:12 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (From To Subject Date Message-ID)]) (CHANGEDSINCE 12345)\r\n")
}

func TestPartialSlice(t *testing.T) {
	b := []byte("0123456789")
	tests := []struct {
		p    *Partial
		want string
	}{
		{nil, "0123456789"},
		{&Partial{0, 4}, "0123"},
		{&Partial{8, 4}, "89"},
		{&Partial{10, 1}, ""},
		{&Partial{1 << 62, 1}, ""},
		{&Partial{3, 1 << 62}, "3456789"},
	}
	for _, tt := range tests {
		if got := string(tt.p.Slice(b)); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.p, got, tt.want)
		}
	}
}
