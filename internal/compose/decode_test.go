package compose

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
)

// strictDecode is the HTTP API's decoding of a send request with
// encoding/json (httpapi.decodeJSONBody): unknown fields refused, nothing
// after the value. DecodeCommon must agree with it whenever it answers.
func strictDecode(b []byte) (Message, error) {
	var m Message
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Message{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return Message{}, io.ErrUnexpectedEOF
	}
	return m, nil
}

// Requests as clients send them: DecodeCommon decodes each, and to what
// encoding/json gives.
var commonRequests = []string{
	`{"from": "a@example.org", "to": ["b@example.net"], "subject": "hi", "text": "line\nline 2"}`,
	`{"from":{"name":"Zoë","email":"a@example.org"},"to":[{"email":"b@example.net"},"C <c@example.net>"],"cc":[],"bcc":["d@example.net"],"reply_to":["r@example.org"],"subject":"Gr\u00fc\u00dfe \"quoted\" \\ \/ \t","html":"<p>x</p>","text":"x\r\n"}`,
	"\r\n\t {\"from\" : \"a@example.org\" , \"to\" : [ \"b@example.net\" ] , \"text\" : \"日本語\" } \n",
	`{"from": "a@example.org", "to": ["b@example.net"], "text": "t", "tags": ["welcome", ""], "metadata": {"user": "42", "user": "43", "k\u00e9": "v"}, "headers": {"X-Campaign": "c1"}}`,
	`{"from": "a@example.org", "to": ["b@example.net"], "html": "<img src=cid:logo>", "attachments": [{"filename": "f.txt", "content": "aGk=", "content_type": "text/plain"}, {"content_id": "logo", "disposition": "inline", "content": ""}]}`,
	`{}`,
	`{"to": [], "tags": [], "metadata": {}, "from": {}}`,
	`{"text": "\u0000\u001f\u007f\uffff\u20ac"}`,
}

// Requests DecodeCommon leaves to encoding/json: valid ones it does not
// take on (letter case, null, duplicate keys, surrogates) and invalid ones.
var uncommonRequests = []string{
	`{"From": "a@example.org"}`,
	`{"from": null}`,
	`{"to": null}`,
	`{"text": "a", "text": "b"}`,
	`{"from": {"email": "a@x", "email": "b@x"}}`,
	`{"text": "\ud83d\ude00"}`,
	`{"text": "\ud83d"}`,
	"{\"text\": \"\xff\"}",
	"{\"text\": \"a\x01\"}",
	`{"text": "\x"}`,
	`{"text": "\u12"}`,
	`{"text": "a"} {}`,
	`{"text": "a"}]`,
	`{"text": 1}`,
	`{"unknown": "x"}`,
	`{"from": {"mail": "a@x"}}`,
	`{"attachments": [{"size": 1}]}`,
	`{"text": "a",}`,
	`{"text" "a"}`,
	`{"text": "a"`,
	`[]`,
	``,
	`{"fr\u006fm": "a@x"}`,
}

func TestDecodeCommon(t *testing.T) {
	for _, in := range commonRequests {
		var got Message
		if !DecodeCommon([]byte(in), &got) {
			t.Errorf("DecodeCommon(%s) refused a common request", in)
			continue
		}
		want, err := strictDecode([]byte(in))
		if err != nil {
			t.Fatalf("encoding/json refuses %s: %v", in, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("DecodeCommon(%s)\n = %#v\nencoding/json: %#v", in, got, want)
		}
	}
	for _, in := range uncommonRequests {
		m := Message{Subject: "kept"}
		if DecodeCommon([]byte(in), &m) {
			t.Errorf("DecodeCommon(%s) answered %#v; want it left to encoding/json", in, m)
		}
		if m.Subject != "kept" {
			t.Errorf("DecodeCommon(%s) changed m although it refused", in)
		}
	}
}

// FuzzDecodeCommon: whenever DecodeCommon answers, encoding/json's strict
// decoding accepts the same input and gives the same Message.
func FuzzDecodeCommon(f *testing.F) {
	for _, in := range commonRequests {
		f.Add([]byte(in))
	}
	for _, in := range uncommonRequests {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got Message
		if !DecodeCommon(b, &got) {
			return
		}
		want, err := strictDecode(b)
		if err != nil {
			t.Fatalf("DecodeCommon accepted %q, encoding/json refuses it: %v", b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("DecodeCommon(%q)\n = %#v\nencoding/json: %#v", b, got, want)
		}
	})
}

// BenchmarkDecode2KB compares DecodeCommon with encoding/json on a 2 KiB
// text message.
func BenchmarkDecode2KB(b *testing.B) {
	text := strings.Repeat("The quick brown fox jumps over the lazy dog, again and again. \n", 40)[:2048]
	body, _ := json.Marshal(map[string]any{"from": "alice@example.org", "to": []string{"someone@remote.test"}, "subject": "bench", "text": text})
	b.Run("common", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m Message
			if !DecodeCommon(body, &m) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := strictDecode(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
