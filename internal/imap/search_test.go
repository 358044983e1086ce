package imap

import (
	"testing"
	"time"
)

// Search programs from RFC 9051 §6.4.4, RFC 3501 §6.4.4 and RFC 7162
// §3.1.5, with the key tree each must give.
func TestSearchKeys(t *testing.T) {
	tests := []struct{ in, want string }{
		{"FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"", "FLAGGED SINCE 1-Feb-1994 NOT FROM Smith"},
		{"TEXT \"string not in mailbox\"", `TEXT "string not in mailbox"`},
		{"OR (SEEN FLAGGED) UNSEEN", "OR (SEEN FLAGGED) UNSEEN"},
		{"(OR DELETED FLAGGED) (SEEN)", "OR DELETED FLAGGED SEEN"},
		{"NOT (DELETED SEEN)", "NOT (DELETED SEEN)"},
		{"DELETED FROM \"SMITH\" SINCE 1-Feb-1994", "DELETED FROM SMITH SINCE 1-Feb-1994"},
		{"header Message-ID <x@y> larger 1000 smaller 20000", "HEADER Message-ID <x@y> LARGER 1000 SMALLER 20000"},
		{"MODSEQ \"/flags/\\\\draft\" all 620162338", `MODSEQ "/flags/\\draft" all 620162338`},
		{"MODSEQ 620162338", "MODSEQ 620162338"},
		{"1:5,7 UID 10:* $ KEYWORD $Junk UNKEYWORD foo", "1:5,7 UID 10:* $ KEYWORD $Junk UNKEYWORD foo"},
		{"SENTBEFORE \"7-Feb-1994\" SENTON 07-Feb-1994 SENTSINCE 7-feb-1994 ON 1-Jan-2000 BEFORE 1-Jan-2000",
			"SENTBEFORE 7-Feb-1994 SENTON 7-Feb-1994 SENTSINCE 7-Feb-1994 ON 1-Jan-2000 BEFORE 1-Jan-2000"},
		{"OLDER 3600 YOUNGER 60 ALL NEW OLD RECENT ANSWERED UNANSWERED DRAFT UNDRAFT UNDELETED UNFLAGGED UNSEEN",
			"OLDER 3600 YOUNGER 60 ALL NEW OLD RECENT ANSWERED UNANSWERED DRAFT UNDRAFT UNDELETED UNFLAGGED UNSEEN"},
		{"BCC \"\" CC a TO b BODY {5+}\r\nx\r\ny\r", "BCC \"\" CC a TO b BODY {5+}\r\nx\r\ny\r"},
		{"NOT NOT NOT SEEN", "NOT NOT NOT SEEN"},
		{"OR OR SEEN DRAFT (DELETED (FLAGGED))", "OR OR SEEN DRAFT (DELETED FLAGGED)"},
	}
	for _, tt := range tests {
		r := newTestReader(tt.in+"\r\n", ReaderOptions{})
		k, err := r.SearchKeys()
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if got := k.appendTo(nil, true); string(got) != tt.want {
			t.Errorf("%q:\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestSearchKeyTree(t *testing.T) {
	r := newTestReader("OR (SEEN FLAGGED) SINCE 5-Mar-2024\r\n", ReaderOptions{})
	k, err := r.SearchKeys()
	if err != nil {
		t.Fatal(err)
	}
	if k.Key != "OR" || len(k.Keys) != 2 || k.Keys[0].Key != "AND" || len(k.Keys[0].Keys) != 2 ||
		k.Keys[1].Key != "SINCE" || !k.Keys[1].Date.Equal(time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("got %#v", k)
	}
}

func TestSearchNestingLimit(t *testing.T) {
	in := ""
	for range maxNesting + 2 {
		in += "NOT "
	}
	r := newTestReader(in+"SEEN\r\n", ReaderOptions{})
	if _, err := r.SearchKeys(); AsError(err) == nil {
		t.Fatalf("got %v, want BAD", err)
	}
}

func BenchmarkReadSearch(b *testing.B) {
	line := "a UID SEARCH RETURN (ALL) CHARSET UTF-8 OR (FROM alice SUBJECT \"quarterly report\") (SINCE 1-Jan-2024 NOT SEEN) UID 1:*\r\n"
	benchmarkRead(b, line)
}
