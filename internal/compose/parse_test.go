package compose

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseReadsBuild(t *testing.T) {
	for _, s := range shapes() {
		t.Run(s.name, func(t *testing.T) {
			raw, err := Build(&s.msg, Options{Date: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), MessageID: "id1@example.org"})
			if err != nil {
				t.Fatal(err)
			}
			in, err := Parse(raw, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(in.Problems) > 0 {
				t.Errorf("problems: %v", in.Problems)
			}
			if in.Subject != s.msg.Subject || in.MessageID != "id1@example.org" || in.Date != "2026-03-01T12:00:00Z" {
				t.Errorf("subject %q id %q date %q", in.Subject, in.MessageID, in.Date)
			}
			if !sameAddrs(in.From, []Address{s.msg.From}) || !sameAddrs(in.To, s.msg.To) || !sameAddrs(in.Cc, s.msg.Cc) || !sameAddrs(in.ReplyTo, s.msg.ReplyTo) {
				t.Errorf("addresses %v %v %v %v", in.From, in.To, in.Cc, in.ReplyTo)
			}
			lf := func(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }
			wantText, wantHTML := s.msg.Text, s.msg.HTML
			if wantText != "" && !strings.HasSuffix(wantText, "\n") {
				wantText += "\n"
			}
			if wantHTML != "" && !strings.HasSuffix(wantHTML, "\n") {
				wantHTML += "\n"
			}
			if lf(in.Text) != wantText || lf(in.HTML) != wantHTML {
				t.Errorf("text %q html %q", in.Text, in.HTML)
			}
			got := map[string]InboundPart{}
			for _, p := range append(append([]InboundPart{}, in.Attachments...), in.Inline...) {
				got[p.Filename+"|"+p.ContentID] = p
			}
			if len(got) != len(s.msg.Attachments) {
				t.Fatalf("%d parts, want %d: %+v", len(got), len(s.msg.Attachments), got)
			}
			for _, a := range s.msg.Attachments {
				p, ok := got[a.Filename+"|"+a.ContentID]
				want, _ := a.Data()
				dec, _ := base64.StdEncoding.DecodeString(p.Content)
				if !ok || !bytes.Equal(dec, want) || p.Size != len(want) {
					t.Errorf("attachment %q/%q: %+v", a.Filename, a.ContentID, p)
				}
			}
			for _, h := range in.Headers {
				if strings.EqualFold(h.Name, "Subject") && h.Value != s.msg.Subject {
					t.Errorf("Subject header value %q", h.Value)
				}
			}
		})
	}
}

// A message in legacy charsets, written by hand the way other mailers do.
const legacyMessage = "From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>\r\n" +
	"To: =?shift_jis?B?k/qWe4zq?= <jp@example.com>, undisclosed-recipients:;\r\n" +
	"Subject: =?iso-8859-1?q?this=20is=20some=20text?= =?utf-8?b?w7w=?=\r\n" +
	"Date: Thu, 13 Feb 1969 23:32:54 -0330\r\n" +
	"Message-ID: <m1@example.com>\r\n" +
	"In-Reply-To: <p1@example.com>\r\n" +
	"References: <p0@example.com> <p1@example.com>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"outer\"\r\n" +
	"\r\n" +
	"preamble\r\n" +
	"--outer\r\n" +
	"Content-Type: multipart/alternative; boundary=inner\r\n" +
	"\r\n" +
	"--inner\r\n" +
	"Content-Type: text/plain; charset=iso-8859-1\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Gr=FC=DFe, caf=E9\r\n" +
	"--inner\r\n" +
	"Content-Type: text/html; charset=windows-1252\r\n" +
	"Content-Transfer-Encoding: 8bit\r\n" +
	"\r\n" +
	"<p>\x80 5</p>\r\n" +
	"--inner--\r\n" +
	"--outer\r\n" +
	"Content-Type: application/octet-stream\r\n" +
	"Content-Disposition: attachment; filename*0*=utf-8''%C3%A9t%C3%A9;\r\n filename*1=\".txt\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"aGVsbG8=\r\n" +
	"--outer\r\n" +
	"Content-Type: image/gif; name=\"logo.gif\"\r\n" +
	"Content-ID: <logo@example.com>\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"R0lGODlh\r\n" +
	"--outer--\r\n"

func TestParseCharsets(t *testing.T) {
	in, err := Parse([]byte(legacyMessage), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(in.From) != 1 || in.From[0].Name != "André Pirard" || in.From[0].Email != "PIRARD@vm1.ulg.ac.be" {
		t.Errorf("from %+v", in.From)
	}
	if len(in.To) < 1 || in.To[0].Name != "日本語" {
		t.Errorf("to %+v (problems %v)", in.To, in.Problems)
	}
	if in.Subject != "this is some textü" {
		t.Errorf("subject %q", in.Subject)
	}
	if in.Date != "1969-02-13T23:32:54-03:30" {
		t.Errorf("date %q", in.Date)
	}
	if in.MessageID != "m1@example.com" || strings.Join(in.InReplyTo, " ") != "p1@example.com" || strings.Join(in.References, " ") != "p0@example.com p1@example.com" {
		t.Errorf("ids %q %q %q", in.MessageID, in.InReplyTo, in.References)
	}
	if in.Text != "Grüße, café" {
		t.Errorf("text %q", in.Text)
	}
	if in.HTML != "<p>€ 5</p>" {
		t.Errorf("html %q", in.HTML)
	}
	if len(in.Attachments) != 1 || in.Attachments[0].Filename != "été.txt" || in.Attachments[0].Content != "aGVsbG8=" || in.Attachments[0].Size != 5 {
		t.Errorf("attachments %+v", in.Attachments)
	}
	if len(in.Inline) != 1 || in.Inline[0].ContentID != "logo@example.com" || in.Inline[0].Filename != "logo.gif" || in.Inline[0].ContentType != "image/gif" {
		t.Errorf("inline %+v", in.Inline)
	}
	if in.Headers[0].Name != "From" || in.Headers[0].Value != "André Pirard <PIRARD@vm1.ulg.ac.be>" || in.Headers[len(in.Headers)-1].Name != "Content-Type" {
		t.Errorf("headers %+v", in.Headers)
	}
	if _, err := json.Marshal(in); err != nil {
		t.Error(err)
	}
}

func nested(depth int) string {
	var b strings.Builder
	b.WriteString("From: a@example.org\r\nSubject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n")
	for i := 1; i <= depth; i++ {
		fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n", i-1, i)
	}
	fmt.Fprintf(&b, "--b%d\r\nContent-Type: text/plain\r\n\r\ndeepest\r\n", depth)
	for i := depth; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	return b.String()
}

func TestParseLimits(t *testing.T) {
	in, err := Parse([]byte(nested(100)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if in.Text != "" || len(in.Problems) == 0 || !strings.Contains(in.Problems[0], "deeper than 16") {
		t.Errorf("depth 100: text %q problems %v", in.Text, in.Problems)
	}
	in, _ = Parse([]byte(nested(10)), Limits{})
	if in.Text != "deepest" || len(in.Problems) != 0 {
		t.Errorf("depth 10: text %q problems %v", in.Text, in.Problems)
	}

	var b strings.Builder
	b.WriteString("Content-Type: multipart/mixed; boundary=x\r\n\r\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, "--x\r\nContent-Type: application/octet-stream\r\n\r\n%d\r\n", i)
	}
	b.WriteString("--x--\r\n")
	in, _ = Parse([]byte(b.String()), Limits{MaxParts: 50})
	if len(in.Attachments) != 49 || len(in.Problems) == 0 {
		t.Errorf("parts limit: %d attachments, problems %v", len(in.Attachments), in.Problems)
	}

	big := "Content-Type: text/plain\r\n\r\n" + strings.Repeat("x", 10000)
	in, _ = Parse([]byte(big), Limits{MaxDecoded: 100})
	if len(in.Text) != 100 || len(in.Problems) == 0 {
		t.Errorf("decoded limit: %d bytes", len(in.Text))
	}
}

func TestParseBrokenHeader(t *testing.T) {
	in, err := Parse([]byte("From: a@example.org\r\nSubject: kept\r\nthis line has no colon\r\nX-After: lost\r\n\r\nbody\r\n"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if in.Subject != "kept" || len(in.From) != 1 || len(in.Problems) == 0 || !strings.Contains(in.Text, "body") {
		t.Errorf("subject %q from %v text %q problems %v", in.Subject, in.From, in.Text, in.Problems)
	}
	in, err = Parse([]byte("Subject: header only\r\n"), Limits{})
	if err != nil || in.Subject != "header only" || len(in.Problems) != 0 {
		t.Errorf("header only: %+v %v", in, err)
	}
	if _, err := Parse([]byte("no header at all\r\n\r\nbody"), Limits{}); !errors.Is(err, ErrNotMessage) {
		t.Errorf("garbage: %v, want ErrNotMessage", err)
	}
}

func TestParseBroken(t *testing.T) {
	for name, raw := range map[string]string{
		"no end boundary":      "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhello",
		"no boundary param":    "Content-Type: multipart/mixed\r\n\r\nbody",
		"bad base64":           "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n",
		"unknown encoding":     "Content-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n",
		"unknown charset":      "Content-Type: text/plain; charset=x-klingon\r\n\r\nqapla\xff\r\n",
		"bare LF":              "Subject: lf\nContent-Type: text/plain\n\nhi\n",
		"bad address":          "From: <<<@>>>\r\nTo: ,,,\r\n\r\nx",
		"8bit header":          "Subject: caf\xe9\r\nFrom: J\xf6rg <j@example.org>\r\n\r\nx",
		"header only":          "Subject: x\r\n",
		"garbage content type": "Content-Type: ;;;===\r\n\r\nx",
	} {
		in, err := Parse([]byte(raw), Limits{})
		if err != nil {
			continue // an unreadable header is an error, which is fine
		}
		if _, err := json.Marshal(in); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		b, _ := json.Marshal(in)
		if !json.Valid(b) {
			t.Errorf("%s: invalid JSON", name)
		}
	}
}

// FuzzParse: no panic, JSON-encodable output, limits respected.
func FuzzParse(f *testing.F) {
	f.Add([]byte(legacyMessage))
	f.Add([]byte(nested(20)))
	golden, _ := filepath.Glob("testdata/golden/*.eml")
	for _, g := range golden {
		b, err := os.ReadFile(g)
		if err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		in, err := Parse(raw, Limits{MaxParts: 64})
		if err != nil {
			return
		}
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if len(in.Attachments)+len(in.Inline) > 64 {
			t.Fatalf("%d parts", len(in.Attachments)+len(in.Inline))
		}
		if len(b) > 8*len(raw)+64*1024 {
			t.Fatalf("%d bytes of JSON from %d", len(b), len(raw))
		}
	})
}
