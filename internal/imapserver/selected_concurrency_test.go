package imapserver

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posthorn/posthorn/internal/imap"
)

// model is what one IMAP client knows of the selected mailbox (sequence
// number → UID) from the responses it reads; it records the first
// response that does not fit, the check a client's cache depends on.
type model struct {
	uids []uint32 // 0: UID not learnt yet
	err  error
}

func (m *model) fail(format string, args ...any) {
	if m.err == nil {
		m.err = fmt.Errorf(format, args...)
	}
}

// read applies untagged EXISTS, EXPUNGE, VANISHED and FETCH (UID ...).
func (m *model) read(lines []string) {
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 3 || f[0] != "*" {
			continue
		}
		if f[1] == "VANISHED" {
			set, err := imap.ParseSeqSet(f[len(f)-1])
			if err != nil {
				m.fail("bad VANISHED %q", l)
				continue
			}
			set = set.Resolve(^uint32(0))
			m.uids = slices.DeleteFunc(m.uids, func(u uint32) bool { return set.Contains(u) })
			continue
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		switch f[2] {
		case "EXISTS":
			if n < len(m.uids) {
				m.fail("EXISTS %d below the %d messages known", n, len(m.uids))
			}
			for len(m.uids) < n {
				m.uids = append(m.uids, 0)
			}
		case "EXPUNGE":
			if n < 1 || n > len(m.uids) {
				m.fail("EXPUNGE %d of %d messages", n, len(m.uids))
				continue
			}
			m.uids = slices.Delete(m.uids, n-1, n)
		case "FETCH":
			if n < 1 || n > len(m.uids) {
				m.fail("FETCH %d of %d messages: %s", n, len(m.uids), l)
				continue
			}
			if i := slices.Index(f, "(UID"); i > 0 {
				u, _ := strconv.Atoi(strings.TrimRight(f[i+1], ")"))
				if m.uids[n-1] != 0 && m.uids[n-1] != uint32(u) {
					m.fail("FETCH %d says UID %d, the client knows %d", n, u, m.uids[n-1])
				}
				m.uids[n-1] = uint32(u)
			}
		}
	}
}

// TestConcurrentSessions runs 20 connections on one mailbox at once,
// appending (APPEND with APPENDUID), flagging by sequence number,
// expunging their own messages and fetching, half of them under QRESYNC.
// Every response must fit each client's model, every APPENDUID must be
// fetchable at once, and at the end every model equals the mailbox, with
// no duplicate UIDs.
func TestConcurrentSessions(t *testing.T) {
	e := newEnv(t)
	addr := e.plain(t)
	for range 10 {
		e.deliver(t, e.alice, selMsg)
	}
	const sessions, ops = 20, 25
	type session struct {
		c    *client
		m    model
		mine map[uint32]bool
		tag  int
	}
	exec := func(s *session, line string) []string {
		s.tag++
		tag := "t" + strconv.Itoa(s.tag)
		lines := s.c.run(tag, line)
		last := lines[len(lines)-1]
		if !strings.HasPrefix(last, tag+" OK") {
			s.m.fail("%s: %s", line, last)
		}
		s.m.read(lines)
		return lines
	}
	// run runs a command, then fetches the UIDs of messages the client
	// was told of, as a client must before it can apply VANISHED.
	run := func(s *session, line string) []string {
		lines := exec(s, line)
		for range 10 {
			i := slices.Index(s.m.uids, 0)
			if i < 0 {
				break
			}
			exec(s, fmt.Sprintf("FETCH %d:* (UID)", i+1))
		}
		return lines
	}
	all := make([]*session, sessions)
	for i := range all {
		s := &session{c: loggedIn(t, addr), mine: map[uint32]bool{}}
		s.c.NC.SetDeadline(time.Now().Add(10 * testTimeout))
		if i%2 == 1 {
			run(s, "ENABLE QRESYNC")
		}
		run(s, "SELECT INBOX")
		all[i] = s
	}
	var wg sync.WaitGroup
	for i, s := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 9))
			for range ops {
				switch r.IntN(4) {
				case 0:
					lines := run(s, fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(selMsg), selMsg))
					var uv, uid uint32
					if _, err := fmt.Sscanf(lines[len(lines)-1][strings.Index(lines[len(lines)-1], "[APPENDUID"):], "[APPENDUID %d %d]", &uv, &uid); err != nil {
						s.m.fail("APPEND: %q", lines)
						return
					}
					s.mine[uid] = true
					lines = run(s, fmt.Sprintf("UID FETCH %d (UID RFC822.SIZE)", uid))
					if !strings.Contains(strings.Join(lines, "\n"), fmt.Sprintf("(UID %d RFC822.SIZE %d)", uid, len(selMsg))) {
						s.m.fail("APPENDUID %d not fetchable: %q", uid, lines)
					}
				case 1:
					if len(s.m.uids) > 0 {
						run(s, fmt.Sprintf(`STORE %d +FLAGS (\Flagged)`, 1+r.IntN(len(s.m.uids))))
					}
				case 2:
					for u := range s.mine {
						delete(s.mine, u)
						run(s, fmt.Sprintf(`UID STORE %d +FLAGS.SILENT (\Deleted)`, u))
						run(s, fmt.Sprintf("UID EXPUNGE %d", u))
						break
					}
				case 3:
					if len(s.m.uids) > 0 {
						run(s, "FETCH 1:* (UID FLAGS)")
					}
				}
				if s.m.err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	msgs, err := e.st.Messages(context.Background(), e.mailbox(t, e.alice, "INBOX").ID)
	if err != nil {
		t.Fatal(err)
	}
	var want []uint32
	for _, m := range msgs {
		want = append(want, m.UID)
	}
	if len(slices.Compact(slices.Clone(want))) != len(want) {
		t.Fatalf("duplicate UIDs in the store: %v", want)
	}
	for i, s := range all {
		run(s, "NOOP")
		if s.m.err != nil {
			t.Errorf("session %d: %v", i, s.m.err)
			continue
		}
		if !slices.Equal(s.m.uids, want) {
			t.Errorf("session %d ends with %v, the mailbox has %v", i, s.m.uids, want)
		}
		for u := range s.mine {
			if !slices.Contains(want, u) {
				t.Errorf("session %d: its message %d is gone", i, u)
			}
		}
	}
}
