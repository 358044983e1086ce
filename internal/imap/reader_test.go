package imap

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func newTestReader(s string, opts ReaderOptions) *Reader {
	return NewReader(bufio.NewReader(strings.NewReader(s)), opts)
}

func readOne(t *testing.T, line string) *Command {
	t.Helper()
	r := newTestReader(line, ReaderOptions{})
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatalf("ReadCommand(%q): %v", line, err)
	}
	if _, err := r.ReadCommand(); err != io.EOF {
		t.Fatalf("ReadCommand(%q) left input behind: %v", line, err)
	}
	return cmd
}

func set(t testing.TB, s string) SeqSet {
	t.Helper()
	ss, err := ParseSeqSet(s)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// Commands from the examples of RFC 9051 §6 and the extension RFCs.
func TestReadCommandExamples(t *testing.T) {
	tests := []struct {
		line string
		want *Command
	}{
		{"abcd CAPABILITY\r\n", &Command{Tag: "abcd", Name: "CAPABILITY"}},
		{"a002 noop\r\n", &Command{Tag: "a002", Name: "NOOP"}},
		{"a001 LOGIN SMITH SESAME\r\n", &Command{Tag: "a001", Name: "LOGIN", Args: &LoginArgs{"SMITH", "SESAME"}}},
		{"a001 LOGIN \"fred \\\"q\\\"\" {6+}\r\nsec\\\"t\r\n", &Command{Tag: "a001", Name: "LOGIN", Args: &LoginArgs{`fred "q"`, `sec\"t`}}},
		{"A001 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n", &Command{Tag: "A001", Name: "AUTHENTICATE",
			Args: &AuthenticateArgs{Mechanism: "PLAIN", InitialResponse: "dGVzdAB0ZXN0AHRlc3Q=", HasInitialResponse: true}}},
		{"A002 AUTHENTICATE scram-sha-256\r\n", &Command{Tag: "A002", Name: "AUTHENTICATE", Args: &AuthenticateArgs{Mechanism: "SCRAM-SHA-256"}}},
		{"t2 ENABLE CONDSTORE X-GOOD-IDEA\r\n", &Command{Tag: "t2", Name: "ENABLE", Args: &EnableArgs{[]string{"CONDSTORE", "X-GOOD-IDEA"}}}},
		{"A142 SELECT inbox\r\n", &Command{Tag: "A142", Name: "SELECT", Args: &SelectArgs{Mailbox: "INBOX"}}},
		{"a EXAMINE \"blurdybloop\" (CONDSTORE)\r\n", &Command{Tag: "a", Name: "EXAMINE", Args: &SelectArgs{Mailbox: "blurdybloop", CondStore: true}}},
		// RFC 7162 §3.2.5.2
		{"A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n", &Command{Tag: "A02", Name: "SELECT",
			Args: &SelectArgs{Mailbox: "INBOX", QResync: &QResyncArgs{UIDValidity: 67890007, ModSeq: 20050715194045000,
				KnownUIDs: ptr(set(t, "41,43:211,214:541"))}}}},
		{"B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))\r\n",
			&Command{Tag: "B04", Name: "SELECT", Args: &SelectArgs{Mailbox: "INBOX", QResync: &QResyncArgs{UIDValidity: 67890007,
				ModSeq: 90060115194045000, KnownUIDs: ptr(set(t, "1:29997")), KnownSeqs: ptr(set(t, "5000,7500,9000,9990:9999")),
				KnownSeqUIDs: ptr(set(t, "15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997"))}}}},
		{"A003 CREATE owatagusiam/\r\n", &Command{Tag: "A003", Name: "CREATE", Args: &CreateArgs{Mailbox: "owatagusiam/"}}},
		{"t1 CREATE \"Important Messages\" (USE (\\Important))\r\n", &Command{Tag: "t1", Name: "CREATE",
			Args: &CreateArgs{Mailbox: "Important Messages", Use: []string{`\Important`}}}},
		{"A683 RENAME blurdybloop sarasoop\r\n", &Command{Tag: "A683", Name: "RENAME", Args: &RenameArgs{"blurdybloop", "sarasoop"}}},
		{"A002 SUBSCRIBE #news.comp.mail.mime\r\n", &Command{Tag: "A002", Name: "SUBSCRIBE", Args: &MailboxArgs{"#news.comp.mail.mime"}}},
		{"A101 LIST \"\" \"\"\r\n", &Command{Tag: "A101", Name: "LIST", Args: &ListArgs{Reference: "", Patterns: []string{""}}}},
		{"A202 LIST ~/Mail/ %\r\n", &Command{Tag: "A202", Name: "LIST", Args: &ListArgs{Reference: "~/Mail/", Patterns: []string{"%"}}}},
		// RFC 5258 §5 examples
		{"A04 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" % RETURN (CHILDREN)\r\n", &Command{Tag: "A04", Name: "LIST",
			Args: &ListArgs{Selection: []string{"SUBSCRIBED", "RECURSIVEMATCH"}, Patterns: []string{"%"}, Return: []string{"CHILDREN"}}}},
		{"BBB LIST \"\" (\"INBOX\" \"Drafts\" \"Sent/%\")\r\n", &Command{Tag: "BBB", Name: "LIST",
			Args: &ListArgs{Patterns: []string{"INBOX", "Drafts", "Sent/%"}}}},
		// RFC 5819
		{"A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))\r\n", &Command{Tag: "A01", Name: "LIST",
			Args: &ListArgs{Patterns: []string{"%"}, Return: []string{"STATUS"}, StatusItems: []string{"MESSAGES", "UNSEEN"}}}},
		{"A01 LSUB \"#news.\" \"comp.mail.*\"\r\n", &Command{Tag: "A01", Name: "LSUB", Args: &ListArgs{Reference: "#news.", Patterns: []string{"comp.mail.*"}}}},
		{"A042 STATUS blurdybloop (UIDNEXT MESSAGES size)\r\n", &Command{Tag: "A042", Name: "STATUS",
			Args: &StatusArgs{Mailbox: "blurdybloop", Items: []string{"UIDNEXT", "MESSAGES", "SIZE"}}}},
		{"A341 CLOSE\r\n", &Command{Tag: "A341", Name: "CLOSE"}},
		{"A202 EXPUNGE\r\n", &Command{Tag: "A202", Name: "EXPUNGE"}},
		{"A003 UID EXPUNGE 3000:3002\r\n", &Command{Tag: "A003", Name: "EXPUNGE", UID: true, Args: &ExpungeArgs{set(t, "3000:3002")}}},
		{"A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n", &Command{Tag: "A282", Name: "SEARCH",
			Args: &SearchArgs{Return: []string{"MIN", "COUNT"}, Key: SearchKey{Key: "AND", Keys: []SearchKey{
				{Key: "FLAGGED"}, {Key: "SINCE", Date: time.Date(1994, 2, 1, 0, 0, 0, 0, time.UTC)},
				{Key: "NOT", Keys: []SearchKey{{Key: "FROM", Value: "Smith"}}}}}}}},
		{"A284 SEARCH CHARSET UTF-8 TEXT {8+}\r\nмаша\r\n", &Command{Tag: "A284", Name: "SEARCH",
			Args: &SearchArgs{Charset: "UTF-8", Key: SearchKey{Key: "TEXT", Value: "маша"}}}},
		{"A285 UID SEARCH 1:100 UID 443:557\r\n", &Command{Tag: "A285", Name: "SEARCH", UID: true,
			Args: &SearchArgs{Key: SearchKey{Key: "AND", Keys: []SearchKey{{Key: "SEQSET", Set: set(t, "1:100")}, {Key: "UID", Set: set(t, "443:557")}}}}}},
		{"A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n", &Command{Tag: "A654", Name: "FETCH",
			Args: &FetchArgs{Set: set(t, "2:4"), Items: []FetchItem{{Name: "FLAGS"},
				{Name: "BODY", Section: &Section{Specifier: "HEADER.FIELDS", Fields: []string{"DATE", "FROM"}}}}}}},
		{"a fetch 1 fast\r\n", &Command{Tag: "a", Name: "FETCH", Args: &FetchArgs{Set: set(t, "1"),
			Items: []FetchItem{{Name: "FLAGS"}, {Name: "INTERNALDATE"}, {Name: "RFC822.SIZE"}}}}},
		{"a UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n", &Command{Tag: "a", Name: "FETCH", UID: true,
			Args: &FetchArgs{Set: set(t, "1:*"), Items: []FetchItem{{Name: "UID"}, {Name: "FLAGS"}}, ChangedSince: 12345, Vanished: true}}},
		{"a FETCH 1 (BODY.PEEK[1.2.MIME]<0.100> BINARY.PEEK[1]<5.10> BINARY.SIZE[2] body[] BODY)\r\n", &Command{Tag: "a", Name: "FETCH",
			Args: &FetchArgs{Set: set(t, "1"), Items: []FetchItem{
				{Name: "BODY", Peek: true, Section: &Section{Part: []uint32{1, 2}, Specifier: "MIME"}, Partial: &Partial{0, 100}},
				{Name: "BINARY", Peek: true, Section: &Section{Part: []uint32{1}}, Partial: &Partial{5, 10}},
				{Name: "BINARY.SIZE", Section: &Section{Part: []uint32{2}}},
				{Name: "BODY", Section: &Section{}},
				{Name: "BODY"}}}}},
		{"A003 STORE 2:4 +FLAGS (\\deleted)\r\n", &Command{Tag: "A003", Name: "STORE",
			Args: &StoreArgs{Set: set(t, "2:4"), Op: StoreAdd, Flags: []string{`\Deleted`}}}},
		// RFC 7162 §3.1.3 example
		{"d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)\r\n", &Command{Tag: "d105", Name: "STORE",
			Args: &StoreArgs{Set: set(t, "7,5,9"), UnchangedSince: 320162338, HasUnchanged: true, Op: StoreAdd, Silent: true, Flags: []string{`\Deleted`}}}},
		{"a STORE 1 -FLAGS $Junk \\Seen\r\n", &Command{Tag: "a", Name: "STORE",
			Args: &StoreArgs{Set: set(t, "1"), Op: StoreRemove, Flags: []string{"$Junk", `\Seen`}}}},
		{"A003 COPY 2:4 MEETING\r\n", &Command{Tag: "A003", Name: "COPY", Args: &CopyArgs{set(t, "2:4"), "MEETING"}}},
		{"a UID MOVE $ Trash\r\n", &Command{Tag: "a", Name: "MOVE", UID: true, Args: &CopyArgs{SeqSet{Saved: true}, "Trash"}}},
		{"a023 ID (\"name\" \"sodr\" \"version\" NIL)\r\n", &Command{Tag: "a023", Name: "ID",
			Args: &IDArgs{Fields: []string{"name", "version"}, Values: []string{"sodr", ""}, HasValue: []bool{true, false}}}},
		{"a ID NIL\r\n", &Command{Tag: "a", Name: "ID", Args: &IDArgs{}}},
		{"G0001 GETQUOTA \"!partition/sda4\"\r\n", &Command{Tag: "G0001", Name: "GETQUOTA", Args: &QuotaArgs{"!partition/sda4"}}},
		{"S0001 SETQUOTA \"\" (STORAGE 512)\r\n", &Command{Tag: "S0001", Name: "SETQUOTA",
			Args: &SetQuotaArgs{Root: "", Resources: []string{"STORAGE"}, Limits: []uint64{512}}}},
		{"a IDLE\n", &Command{Tag: "a", Name: "IDLE"}},
	}
	for _, tt := range tests {
		got := readOne(t, tt.line)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q:\n got %#v\nwant %#v", tt.line, got, tt.want)
			if a, ok := got.Args.(*SearchArgs); ok {
				t.Errorf("search key: %s", a.Key)
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestReadAppend(t *testing.T) {
	// RFC 9051 §6.3.12 example, then MULTIAPPEND (RFC 3502 §6) with binary
	// and UTF8 literals.
	msg := "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nFrom: Fred Foobar <foobar@Blurdybloop.example>\r\n\r\nHello Joe\r\n"
	in := "A003 APPEND saved-messages (\\Seen) {" + itoa(len(msg)) + "}\r\n" + msg + "\r\n" +
		"A004 APPEND Drafts (\\Draft) \" 7-Feb-1994 21:52:25 -0800\" {3}\r\nabc ~{4+}\r\na\x00bc UTF8 (~{2}\r\nhi)\r\n"
	var lits []Literal
	r := newTestReader(in, ReaderOptions{Literal: func(l Literal) error { lits = append(lits, l); return nil }})
	c1, err := r.ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	want1 := &AppendArgs{Mailbox: "saved-messages", Messages: []AppendMessage{{Flags: []string{`\Seen`}, Data: []byte(msg)}}}
	if !reflect.DeepEqual(c1.Args, want1) {
		t.Errorf("got %#v", c1.Args)
	}
	c2, err := r.ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	a := c2.Args.(*AppendArgs)
	if len(a.Messages) != 3 {
		t.Fatalf("got %d messages", len(a.Messages))
	}
	wantDate := time.Date(1994, 2, 7, 21, 52, 25, 0, time.FixedZone("", -8*3600))
	if !a.Messages[0].Date.Equal(wantDate) || string(a.Messages[0].Data) != "abc" {
		t.Errorf("message 1: %+v", a.Messages[0])
	}
	if m := a.Messages[1]; !m.Binary || string(m.Data) != "a\x00bc" || m.Flags != nil {
		t.Errorf("message 2: %+v", m)
	}
	if m := a.Messages[2]; !m.UTF8 || m.Binary || string(m.Data) != "hi" {
		t.Errorf("message 3: %+v", m)
	}
	wantLits := []Literal{{Size: int64(len(msg)), Append: true}, {Size: 3, Append: true},
		{Size: 4, NonSync: true, Binary: true, Append: true}, {Size: 2, Binary: true, Append: true}}
	if !reflect.DeepEqual(lits, wantLits) {
		t.Errorf("literal hook saw %+v", lits)
	}
}

func itoa(n int) string { return string(appendPad(nil, n, 1)) }

func TestAppendLimit(t *testing.T) {
	// A synchronizing literal over APPENDLIMIT is refused with NO [TOOBIG]
	// before its octets are read (RFC 7889); the session stays in sync.
	called := false
	r := newTestReader("a1 APPEND INBOX {100}\r\na2 NOOP\r\n", ReaderOptions{MaxAppend: 50,
		Literal: func(Literal) error { called = true; return nil }})
	_, err := r.ReadCommand()
	pe := AsError(err)
	if pe == nil || pe.Status != NO || pe.Code != "TOOBIG" || pe.Tag != "a1" || pe.Fatal {
		t.Fatalf("got %v (%+v)", err, pe)
	}
	if called {
		t.Error("literal hook called for a refused literal")
	}
	if c, err := r.ReadCommand(); err != nil || c.Name != "NOOP" {
		t.Fatalf("next command: %v %v", c, err)
	}

	// LITERAL-: a non-synchronizing literal over 4096 octets is fatal.
	r = newTestReader("a1 APPEND INBOX {5000+}\r\n", ReaderOptions{LiteralMinus: true})
	_, err = r.ReadCommand()
	if pe := AsError(err); pe == nil || pe.Status != BAD || !pe.Fatal {
		t.Fatalf("LITERAL- over 4096: %v", err)
	}

	// The hook can refuse too, e.g. over quota.
	r = newTestReader("a1 APPEND INBOX {10}\r\na2 NOOP\r\n", ReaderOptions{
		Literal: func(Literal) error { return &Error{Status: NO, Code: "OVERQUOTA", Text: "over quota"} }})
	_, err = r.ReadCommand()
	if pe := AsError(err); pe == nil || pe.Code != "OVERQUOTA" || pe.Tag != "a1" {
		t.Fatalf("hook refusal: %v", err)
	}
	if c, err := r.ReadCommand(); err != nil || c.Name != "NOOP" {
		t.Fatalf("next command after refusal: %v %v", c, err)
	}
}

// Many literals within the per-literal limit still add up to a limit per
// command, since ReadCommand keeps them in memory.
func TestCommandLiteralTotal(t *testing.T) {
	in := "a1 SEARCH" + strings.Repeat(" OR BODY {10}\r\n0123456789", 10) + " ALL\r\na2 NOOP\r\n"
	r := newTestReader(in, ReaderOptions{MaxLiteral: 10, MaxAppend: 10, MaxCommand: 45})
	_, err := r.ReadCommand()
	var lt *LiteralTooLargeError
	if !errors.As(err, &lt) || lt.Limit != 45 || lt.Size != 50 {
		t.Fatalf("got %v", err)
	}
	r = newTestReader(in, ReaderOptions{MaxLiteral: 10, MaxAppend: 10, MaxCommand: 100})
	if c, err := r.ReadCommand(); err != nil || c.Name != "SEARCH" {
		t.Fatalf("within the limit: %v", err)
	}
}

func TestSyntaxErrors(t *testing.T) {
	bad := []string{
		"\r\n",
		"a\r\n",
		"a  NOOP\r\n",
		"+a NOOP\r\n",
		"a NOOP extra\r\n",
		"a FROB\r\n",
		"a UID NOOP\r\n",
		"a LOGIN user\r\n",
		"a LOGIN \"unterminated\r\n",
		"a LOGIN \"bad\\escape\" x\r\n",
		"a SELECT INBOX (FOO)\r\n",
		"a FETCH 0 FLAGS\r\n",
		"a FETCH 1:2, FLAGS\r\n",
		"a FETCH 1 (FLAGS\r\n",
		"a FETCH 1 ()\r\n",
		"a FETCH 1 BODY[1.]\r\n",
		"a FETCH 1 BODY[MIME]\r\n",
		"a FETCH 1 BODY[1.HEADER.FIELDS ()]\r\n",
		"a FETCH 1 BINARY[HEADER]\r\n",
		"a FETCH 1 BODY[]<0.0>\r\n",
		"a FETCH 1 FLAGS (CHANGEDSINCE 0)\r\n",
		"a SEARCH\r\n",
		"a SEARCH FOO\r\n",
		"a SEARCH OR SEEN\r\n",
		"a SEARCH ()\r\n",
		"a SEARCH BEFORE 31-Feb-2024\r\n",
		"a SEARCH SINCE 1-Foo-2024\r\n",
		"a SEARCH KEYWORD \\Seen\r\n",
		"a SEARCH LARGER 99999999999999999999\r\n",
		"a STORE 1 FLAGS.LOUD (\\Seen)\r\n",
		"a APPEND INBOX \"bad date\" {1}\r\n",
		"a APPEND INBOX {3}\r\na\x00b\r\n",
		"a APPEND INBOX UTF8 ({2}\r\n",
		"a SELECT \"caf\xe9\"\r\n",
		"a LOGIN x\x00 y\r\n",
	}
	for _, line := range bad {
		r := newTestReader(line+"b NOOP\r\n", ReaderOptions{})
		_, err := r.ReadCommand()
		pe := AsError(err)
		if pe == nil || pe.Status != BAD {
			t.Errorf("%q: got %v, want BAD", line, err)
			continue
		}
		if pe.Fatal {
			continue
		}
		c, err := r.ReadCommand()
		if err != nil || c.Tag != "b" {
			t.Errorf("%q: command after the error: %v %v", line, c, err)
		}
	}
}

func TestSyntaxErrorSkipsNonSyncLiteral(t *testing.T) {
	// The bad command carries a LITERAL+ literal after the error point: its
	// octets must not be taken for the next command.
	r := newTestReader("a FOO {10+}\r\nb LOGOUT\r\n\r\nc NOOP\r\n", ReaderOptions{})
	if _, err := r.ReadCommand(); AsError(err) == nil {
		t.Fatalf("got %v", err)
	}
	c, err := r.ReadCommand()
	if err != nil || c.Tag != "c" {
		t.Fatalf("got %v %v, want c NOOP", c, err)
	}
}

func TestLineTooLong(t *testing.T) {
	r := newTestReader("a LOGIN "+strings.Repeat("x", 200)+" y\r\n", ReaderOptions{MaxLine: 100})
	_, err := r.ReadCommand()
	var ll *LineTooLongError
	if !errors.As(err, &ll) || ll.Limit != 100 || ll.Tag != "a" {
		t.Fatalf("got %v", err)
	}
	if pe := AsError(err); pe == nil || !pe.Fatal || pe.Status != BAD {
		t.Fatalf("AsError: %+v", pe)
	}
	// Literal contents do not count toward the line.
	long := strings.Repeat("x", 200)
	r = newTestReader("a LOGIN {200+}\r\n"+long+" y\r\n", ReaderOptions{MaxLine: 100})
	if c, err := r.ReadCommand(); err != nil || c.Args.(*LoginArgs).Username != long {
		t.Fatalf("literal: %v", err)
	}
}

func TestEOF(t *testing.T) {
	r := newTestReader("", ReaderOptions{})
	if _, err := r.ReadCommand(); err != io.EOF {
		t.Fatalf("empty input: %v", err)
	}
	r = newTestReader("a NOO", ReaderOptions{})
	if _, err := r.ReadCommand(); err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated: %v", err)
	}
}

func TestReadLine(t *testing.T) {
	r := newTestReader("dGVzdA==\r\nDONE\n", ReaderOptions{})
	for _, want := range []string{"dGVzdA==", "DONE"} {
		if got, err := r.ReadLine(); err != nil || got != want {
			t.Fatalf("got %q %v, want %q", got, err, want)
		}
	}
}

// Extension commands are parsed by the engine with the exported helpers:
// here RFC 5256 SORT.
func TestExtension(t *testing.T) {
	type sortArgs struct {
		Criteria []string
		Charset  string
		Key      SearchKey
	}
	opts := ReaderOptions{Extension: func(r *Reader, cmd *Command) (any, error) {
		if cmd.Name != "SORT" {
			return nil, &Error{Status: BAD, Text: "unknown command"}
		}
		var a sortArgs
		if err := r.SP(); err != nil {
			return nil, err
		}
		err := r.List(func() error {
			c, err := r.Atom()
			a.Criteria = append(a.Criteria, c)
			return err
		})
		if err != nil {
			return nil, err
		}
		if err := r.SP(); err != nil {
			return nil, err
		}
		if a.Charset, err = r.Atom(); err != nil {
			return nil, err
		}
		if err := r.SP(); err != nil {
			return nil, err
		}
		a.Key, err = r.SearchKeys()
		return &a, err
	}}
	r := newTestReader("A283 UID SORT (SUBJECT REVERSE DATE) UTF-8 ALL\r\nA284 GETMETADATA x\r\nA285 NOOP\r\n", opts)
	c, err := r.ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	want := &Command{Tag: "A283", Name: "SORT", UID: true, Args: &sortArgs{[]string{"SUBJECT", "REVERSE", "DATE"}, "UTF-8", SearchKey{Key: "ALL"}}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %#v", c)
	}
	_, err = r.ReadCommand()
	if pe := AsError(err); pe == nil || pe.Tag != "A284" || pe.Status != BAD {
		t.Errorf("refused extension: %v", err)
	}
	if c, err := r.ReadCommand(); err != nil || c.Name != "NOOP" {
		t.Errorf("after refusal: %v %v", c, err)
	}
}
