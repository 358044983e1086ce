package compose

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/posthorn/posthorn/internal/testutil/tools"
	"golang.org/x/net/idna"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// leaf is what a MIME parser should find in one non-multipart part.
type leaf struct {
	ContentType string `json:"content_type"`
	Charset     string `json:"charset"`
	Filename    string `json:"filename"`
	ContentID   string `json:"content_id"`
	Disposition string `json:"disposition"`
	CTE         string `json:"cte"`
	Data        []byte `json:"data"`
}

type shape struct {
	name   string
	msg    Message
	tree   string // the multipart structure, e.g. "mixed(alternative(plain,related(html,png)),pdf)"
	leaves []leaf
}

var (
	pngBytes = "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + strings.Repeat("\x00\xff", 40)
	pdfBytes = "%PDF-1.4\n\xe2\xe3\xcf\xd3\n" + strings.Repeat("binary \x00\x01\x02 data\n", 30)
)

func shapes() []shape {
	from := Address{Name: "Zoë Ünicode", Email: "zoe@example.org"}
	to := []Address{{Email: "a@example.com"}, {Name: "Ренат, Jr.", Email: "renat@example.com"}}
	return []shape{
		{
			name:   "text only ascii",
			msg:    Message{From: from, To: to, Subject: "plain", Text: "Hello,\nworld.\n"},
			tree:   "text/plain",
			leaves: []leaf{{ContentType: "text/plain", Charset: "utf-8", CTE: "7bit", Data: []byte("Hello,\nworld.\n")}},
		},
		{
			name: "text long lines",
			msg:  Message{From: from, To: to, Subject: "long", Text: strings.Repeat("word ", 400) + "\nend"},
			tree: "text/plain",
			leaves: []leaf{{ContentType: "text/plain", Charset: "utf-8", CTE: "quoted-printable",
				Data: []byte(strings.Repeat("word ", 400) + "\nend\n")}},
		},
		{
			name:   "text mostly non-ascii",
			msg:    Message{From: from, To: to, Subject: "日本語の件名です、とても長い件名をここに書きます。折り返しが必要になるでしょう。", Text: "こんにちは世界\nさようなら\n"},
			tree:   "text/plain",
			leaves: []leaf{{ContentType: "text/plain", Charset: "utf-8", CTE: "base64", Data: []byte("こんにちは世界\nさようなら\n")}},
		},
		{
			name:   "html only",
			msg:    Message{From: from, To: to, Subject: "Grüße", HTML: "<p>Grüße aus Köln, with enough ASCII around it</p>"},
			tree:   "text/html",
			leaves: []leaf{{ContentType: "text/html", Charset: "utf-8", CTE: "quoted-printable", Data: []byte("<p>Grüße aus Köln, with enough ASCII around it</p>\n")}},
		},
		{
			name: "alternative",
			msg:  Message{From: from, To: to, Subject: "alt", Text: "plain text with one ü", HTML: "<b>html with one more ü</b>"},
			tree: "multipart/alternative(text/plain,text/html)",
			leaves: []leaf{
				{ContentType: "text/plain", Charset: "utf-8", CTE: "quoted-printable", Data: []byte("plain text with one ü\n")},
				{ContentType: "text/html", Charset: "utf-8", CTE: "quoted-printable", Data: []byte("<b>html with one more ü</b>\n")},
			},
		},
		{
			name: "everything",
			msg: Message{
				From: from, To: to, Cc: []Address{{Email: "cc@example.com"}},
				Bcc:     []Address{{Email: "hidden@example.net"}},
				ReplyTo: []Address{{Name: "Support", Email: "support@example.org"}},
				Subject: "Ihre Rechnung — Nr. 42", Text: "Text with an umlaut: ü", HTML: `<p>HTML <img src="cid:logo@x"></p>`,
				Headers: map[string]string{"X-Campaign": "Frühling 2026", "List-Unsubscribe": "<mailto:unsub@example.org>"},
				Attachments: []Attachment{
					{Filename: "Prüfbericht 2026 – endgültig.pdf", Content: b64(pdfBytes)},
					{ContentID: "logo@x", ContentType: "image/png", Content: b64(pngBytes)},
					{Filename: "notes.txt", Content: b64("line one\r\nline two\r\n")},
					{Filename: "raw.txt", ContentType: "text/plain", Content: b64("bare\nLF\n")},
					{Filename: "empty.bin", Content: ""},
				},
			},
			tree: "multipart/mixed(multipart/alternative(text/plain,multipart/related(text/html,image/png)),application/pdf,text/plain,text/plain,application/octet-stream)",
			leaves: []leaf{
				{ContentType: "text/plain", Charset: "utf-8", CTE: "quoted-printable", Data: []byte("Text with an umlaut: ü\n")},
				{ContentType: "text/html", Charset: "utf-8", CTE: "7bit", Data: []byte("<p>HTML <img src=\"cid:logo@x\"></p>\n")},
				{ContentType: "image/png", ContentID: "logo@x", Disposition: "inline", CTE: "base64", Data: []byte(pngBytes)},
				{ContentType: "application/pdf", Filename: "Prüfbericht 2026 – endgültig.pdf", Disposition: "attachment", CTE: "base64", Data: []byte(pdfBytes)},
				{ContentType: "text/plain", Charset: "utf-8", Filename: "notes.txt", Disposition: "attachment", CTE: "base64", Data: []byte("line one\r\nline two\r\n")},
				{ContentType: "text/plain", Filename: "raw.txt", Disposition: "attachment", CTE: "base64", Data: []byte("bare\nLF\n")},
				{ContentType: "application/octet-stream", Filename: "empty.bin", Disposition: "attachment", CTE: "base64", Data: []byte{}},
			},
		},
		{
			name: "utf8 addresses",
			msg: Message{From: Address{Name: "Jöran", Email: "jöran@bücher.de"}, To: []Address{{Name: "用户", Email: "用户@例子.广告"}},
				Subject: "Ünïcödé", Text: "ok"},
			tree:   "text/plain",
			leaves: []leaf{{ContentType: "text/plain", Charset: "utf-8", CTE: "7bit", Data: []byte("ok\n")}},
		},
		{
			name: "inline without html is an attachment",
			msg: Message{From: from, To: to, Text: "see image",
				Attachments: []Attachment{{ContentID: "img1", Filename: "ímage.png", Content: b64(pngBytes)}}},
			tree: "multipart/mixed(text/plain,image/png)",
			leaves: []leaf{
				{ContentType: "text/plain", Charset: "utf-8", CTE: "7bit", Data: []byte("see image\n")},
				{ContentType: "image/png", ContentID: "img1", Filename: "ímage.png", Disposition: "inline", CTE: "base64", Data: []byte(pngBytes)},
			},
		},
	}
}

// charset of text/* parts by extension guessing (notes.txt) is whatever
// mime.TypeByExtension says; compare it only where we set one.
func mimeCharset(ct string) string {
	_, p, _ := mime.ParseMediaType(ct)
	return p["charset"]
}

type pyResult struct {
	From, To, Cc, ReplyTo, Bcc []Address
	Subject                    string
	MessageID                  string `json:"message_id"`
	Date                       string
	Headers                    map[string]string
	Leaves                     []leaf
	Defects                    []string
	Tree                       pyTree
}

type pyTree struct {
	Type  string
	Parts []pyTree
}

func (p pyTree) String() string {
	if p.Parts == nil {
		return p.Type
	}
	var s []string
	for _, c := range p.Parts {
		s = append(s, c.String())
	}
	return p.Type + "(" + strings.Join(s, ",") + ")"
}

// pythonReadBack parses each message with Python's email package, in one
// process.
func pythonReadBack(t *testing.T, raws ...[]byte) []pyResult {
	t.Helper()
	py := tools.Look(t, "python3")
	dir := t.TempDir()
	args := []string{"testdata/readback.py"}
	for i, raw := range raws {
		f := filepath.Join(dir, fmt.Sprintf("msg%d.eml", i))
		if err := os.WriteFile(f, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("readback.py: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var rs []pyResult
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		var r pyResult
		var aux struct {
			ReplyTo []Address `json:"reply_to"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("%v: %.300s", err, line)
		}
		json.Unmarshal(line, &aux)
		r.ReplyTo = aux.ReplyTo
		rs = append(rs, r)
	}
	if len(rs) != len(raws) {
		t.Fatalf("readback.py answered %d messages of %d", len(rs), len(raws))
	}
	return rs
}

// checkLines asserts CRLF line endings only and no line over 998 octets.
func checkLines(t testing.TB, raw []byte) {
	t.Helper()
	for i, l := range bytes.Split(raw, []byte("\r\n")) {
		if len(l) > 998 {
			t.Fatalf("line %d is %d octets", i+1, len(l))
		}
		if bytes.ContainsAny(l, "\r\n") {
			t.Fatalf("line %d has a bare CR or LF: %q", i+1, l)
		}
	}
	if !bytes.HasSuffix(raw, []byte("\r\n")) {
		t.Fatalf("message does not end in CRLF")
	}
}

func sameAddrs(a, b []Address) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !strings.EqualFold(a[i].Email, b[i].Email) {
			return false
		}
	}
	return true
}

func TestBuildPythonReadsBack(t *testing.T) {
	date := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var raws [][]byte
	for _, s := range shapes() {
		raw, err := Build(&s.msg, Options{Date: date})
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		raws = append(raws, raw)
	}
	results := pythonReadBack(t, raws...)
	for i, s := range shapes() {
		t.Run(s.name, func(t *testing.T) {
			raw, r := raws[i], results[i]
			checkLines(t, raw)
			if len(r.Defects) > 0 {
				t.Errorf("python found defects: %v", r.Defects)
			}
			if !sameAddrs(r.From, []Address{s.msg.From}) || !sameAddrs(r.To, s.msg.To) || !sameAddrs(r.Cc, s.msg.Cc) || !sameAddrs(r.ReplyTo, s.msg.ReplyTo) {
				t.Errorf("addresses: from %v to %v cc %v reply-to %v", r.From, r.To, r.Cc, r.ReplyTo)
			}
			if r.Bcc != nil || bytes.Contains(raw, []byte("hidden@")) {
				t.Errorf("Bcc leaked into the message")
			}
			if r.Subject != s.msg.Subject && !(s.msg.Subject == "" && r.Subject == "") {
				t.Errorf("subject %q, want %q", r.Subject, s.msg.Subject)
			}
			fromDomain, _ := idna.Lookup.ToASCII(s.msg.From.Email[strings.LastIndexByte(s.msg.From.Email, '@')+1:])
			if !strings.HasSuffix(r.MessageID, "@"+fromDomain+">") {
				t.Errorf("Message-ID %q not on the sender's domain", r.MessageID)
			}
			if r.Date != "Sun, 01 Mar 2026 12:00:00 +0000" {
				t.Errorf("Date %q", r.Date)
			}
			for k, v := range s.msg.Headers {
				if r.Headers[k] != v {
					t.Errorf("header %s = %q, want %q", k, r.Headers[k], v)
				}
			}
			if got := r.Tree.String(); got != s.tree {
				t.Errorf("tree %s\nwant %s", got, s.tree)
			}
			if len(r.Leaves) != len(s.leaves) {
				t.Fatalf("%d leaves, want %d", len(r.Leaves), len(s.leaves))
			}
			for i, want := range s.leaves {
				got := r.Leaves[i]
				if want.Data == nil {
					want.Data = []byte{}
				}
				if got.Data == nil {
					got.Data = []byte{}
				}
				if want.Charset == "" {
					got.Charset = ""
				}
				if got.ContentType != want.ContentType || got.Charset != want.Charset || got.Filename != want.Filename ||
					got.ContentID != want.ContentID || got.Disposition != want.Disposition || !strings.EqualFold(got.CTE, want.CTE) {
					t.Errorf("leaf %d: %+v\nwant %+v", i, got, want)
				}
				if !bytes.Equal(textLF(got), want.Data) {
					t.Errorf("leaf %d: data %q\nwant %q", i, trunc(got.Data), trunc(want.Data))
				}
			}
		})
	}
}

// textLF is a leaf's data, with CRLF made LF for the text bodies (not
// attachments): text is compared by lines, since parsers differ in the
// line endings they hand back; attachment bytes must be equal.
func textLF(l leaf) []byte {
	if l.Filename == "" && l.ContentID == "" && strings.HasPrefix(l.ContentType, "text/") {
		return bytes.ReplaceAll(l.Data, []byte("\r\n"), []byte("\n"))
	}
	return l.Data
}

func trunc(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}

// goMessageLeaves reads raw with go-message and returns the leaves.
func goMessageLeaves(t testing.TB, raw []byte) (mail.Header, []leaf) {
	t.Helper()
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var leaves []leaf
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(p.Body)
		if err != nil {
			t.Fatal(err)
		}
		ct, params, _ := p.Header.(interface {
			ContentType() (string, map[string]string, error)
		}).ContentType()
		l := leaf{ContentType: ct, Charset: params["charset"], Data: data}
		if ah, ok := p.Header.(*mail.AttachmentHeader); ok {
			l.Filename, _ = ah.Filename()
			l.Disposition, _, _ = ah.ContentDisposition()
		}
		if ih, ok := p.Header.(*mail.InlineHeader); ok {
			var params map[string]string
			l.Disposition, params, _ = ih.ContentDisposition()
			l.Filename = params["filename"]
		}
		l.ContentID = strings.Trim(p.Header.(interface{ Get(string) string }).Get("Content-Id"), "<>")
		leaves = append(leaves, l)
	}
	return r.Header, leaves
}

func TestBuildGoMessageReadsBack(t *testing.T) {
	for _, s := range shapes() {
		t.Run(s.name, func(t *testing.T) {
			raw, err := Build(&s.msg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			h, leaves := goMessageLeaves(t, raw)
			subj, _ := h.Subject()
			if subj != s.msg.Subject {
				t.Errorf("subject %q", subj)
			}
			from, _ := h.AddressList("From")
			if len(from) != 1 || from[0].Name != s.msg.From.Name {
				t.Errorf("from %v", from)
			}
			if len(leaves) != len(s.leaves) {
				t.Fatalf("%d leaves, want %d", len(leaves), len(s.leaves))
			}
			for i, want := range s.leaves {
				got := leaves[i]
				// go-message decodes the transfer encoding; a text part's
				// charset is utf-8 so no conversion happens.
				if got.ContentType != want.ContentType || got.Filename != want.Filename || got.ContentID != want.ContentID ||
					!bytes.Equal(textLF(got), want.Data) {
					t.Errorf("leaf %d: %s %q %q %q\nwant %s %q %q %q", i, got.ContentType, got.Filename, got.ContentID, trunc(got.Data),
						want.ContentType, want.Filename, want.ContentID, trunc(want.Data))
				}
			}
		})
	}
}

func TestBuildLargeAttachment(t *testing.T) {
	data := make([]byte, 10<<20)
	rand.Read(data)
	m := Message{From: Address{Email: "a@example.org"}, To: []Address{{Email: "b@example.com"}}, Text: "big",
		Attachments: []Attachment{{Filename: "big.bin", Content: base64.StdEncoding.EncodeToString(data)}}}
	raw, err := Build(&m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkLines(t, raw)
	if len(raw) > 14<<20+4096 {
		t.Errorf("message is %d bytes for 10 MiB (base64 with line breaks is 13.5 MiB)", len(raw))
	}
	r := pythonReadBack(t, raw)[0]
	if len(r.Leaves) != 2 || !bytes.Equal(r.Leaves[1].Data, data) {
		t.Fatalf("python did not read back the 10 MiB attachment intact")
	}
}

func TestBuildHeaderInjectionRefused(t *testing.T) {
	for name, edit := range map[string]func(*Message){
		"subject":      func(m *Message) { m.Subject = "hi\r\nBcc: victim@example.net" },
		"display name": func(m *Message) { m.To[0].Name = "x\nBcc: victim@example.net" },
		"header value": func(m *Message) { m.Headers = map[string]string{"X-A": "v\r\n\r\nbody"} },
		"header name":  func(m *Message) { m.Headers = map[string]string{"Bcc: victim@example.net\r\nX-A": "v"} },
		"owned header": func(m *Message) { m.Headers = map[string]string{"Content-Type": "text/html"} },
		"filename":     func(m *Message) { m.Attachments = []Attachment{{Filename: "a\r\nX: y", Content: ""}} },
		"content type": func(m *Message) {
			m.Attachments = []Attachment{{Filename: "a", ContentType: "text/plain\r\nBcc: v@example.net", Content: ""}}
		},
		"content id": func(m *Message) { m.Attachments = []Attachment{{ContentID: "a>\r\nBcc: v@example.net", Content: ""}} },
	} {
		m := validMessage()
		edit(&m)
		raw, err := Build(&m, Options{})
		var fe *FieldError
		if !errors.As(err, &fe) || raw != nil {
			t.Errorf("%s: Build = %v, %q; want a FieldError", name, err, raw)
		}
	}
	// A non-ASCII display name with quotes and a Bcc-lookalike stays one
	// encoded word inside From.
	m := validMessage()
	m.From.Name = `Ev"il <x@example.net>, Bcc: é`
	raw, err := Build(&m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := goMessageLeaves(t, raw)
	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Address != "app@example.org" || from[0].Name != m.From.Name {
		t.Errorf("From read back as %v (%v)", from, err)
	}
	if h.Has("Bcc") {
		t.Error("a Bcc field appeared")
	}
}

var update = os.Getenv("COMPOSE_UPDATE_GOLDEN") == "1"

// zeros is a deterministic source for the boundaries of golden files.
type counter struct{ n byte }

func (c *counter) Read(p []byte) (int, error) {
	for i := range p {
		c.n++
		p[i] = c.n
	}
	return len(p), nil
}

func TestBuildGolden(t *testing.T) {
	for _, s := range shapes() {
		name := strings.ReplaceAll(s.name, " ", "_")
		t.Run(name, func(t *testing.T) {
			raw, err := Build(&s.msg, Options{
				Date:      time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("", 3600)),
				MessageID: "golden@example.org",
				random:    &counter{},
			})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", name+".eml")
			if update {
				os.MkdirAll(filepath.Dir(path), 0o755)
				if err := os.WriteFile(path, raw, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (COMPOSE_UPDATE_GOLDEN=1 writes it)", err)
			}
			if !bytes.Equal(raw, want) {
				os.WriteFile(path+".got", raw, 0o644)
				t.Errorf("output differs from %s; see %s.got", path, path)
			}
		})
	}
}

// BenchmarkBuildText2KB is the HTTP API's usual message: one 2 KiB text
// part, 7bit.
//
//	go test -run '^$' -bench BuildText2KB -benchmem ./internal/compose
func BenchmarkBuildText2KB(b *testing.B) {
	text := strings.Repeat("The quick brown fox jumps over the lazy dog, again and again. \n", 40)[:2048]
	m := Message{From: Address{Email: "alice@example.org"}, To: []Address{{Email: "someone@remote.test"}}, Subject: "api bench 1", Text: text}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(&m, Options{Date: now}); err != nil {
			b.Fatal(err)
		}
	}
}
