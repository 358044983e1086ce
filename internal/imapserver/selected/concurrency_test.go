package selected

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/posthorn/posthorn/internal/imap"
	"github.com/posthorn/posthorn/internal/store"
)

// client keeps what an IMAP client knows of the mailbox (sequence number
// → UID) from the responses it reads, and fails on any response that does
// not fit: the check a real client's cache depends on.
type client struct {
	c     *conn
	model []uint32 // 0 = UID not learnt yet
	mine  map[uint32]bool
	err   error
}

func (cl *client) fail(format string, args ...any) {
	if cl.err == nil {
		cl.err = fmt.Errorf(format, args...)
	}
}

// read applies the untagged responses of out to the model.
func (cl *client) read(out string) {
	for _, l := range lines(out) {
		f := strings.Fields(l)
		if len(f) < 3 || f[0] != "*" {
			continue
		}
		if f[1] == "VANISHED" {
			set, err := imap.ParseSeqSet(f[len(f)-1])
			if err != nil {
				cl.fail("bad VANISHED %q", l)
				continue
			}
			cl.model = slices.DeleteFunc(cl.model, func(u uint32) bool { return set.Resolve(^uint32(0)).Contains(u) })
			continue
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		switch f[2] {
		case "EXISTS":
			if n < len(cl.model) {
				cl.fail("EXISTS %d below the %d messages known", n, len(cl.model))
			}
			for len(cl.model) < n {
				cl.model = append(cl.model, 0)
			}
		case "EXPUNGE":
			if n < 1 || n > len(cl.model) {
				cl.fail("EXPUNGE %d of %d messages", n, len(cl.model))
				continue
			}
			cl.model = slices.Delete(cl.model, n-1, n)
		case "FETCH":
			if n < 1 || n > len(cl.model) {
				cl.fail("FETCH %d of %d messages: %s", n, len(cl.model), l)
				continue
			}
			if i := slices.Index(f, "(UID"); i > 0 {
				u, _ := strconv.Atoi(strings.TrimRight(f[i+1], ")"))
				if cl.model[n-1] != 0 && cl.model[n-1] != uint32(u) {
					cl.fail("FETCH %d says UID %d, the client knows %d", n, u, cl.model[n-1])
				}
				cl.model[n-1] = uint32(u)
			}
		}
	}
}

// run runs one command and the Sync the session does after it, then
// learns the UIDs of new messages as a client must before it can apply
// VANISHED.
func (cl *client) run(line string, allowExpunge bool) string {
	out := cl.exec(line, allowExpunge)
	cl.learn()
	return out
}

func (cl *client) exec(line string, allowExpunge bool) string {
	out, st := cl.c.cmd(line)
	cl.read(out)
	if st != "OK" && st != "NO [EXPUNGEISSUED]" {
		cl.fail("%s: %s", line, st)
	}
	cl.read(cl.c.sync(allowExpunge))
	return out
}

func (cl *client) learn() {
	for range 10 {
		i := slices.Index(cl.model, 0)
		if i < 0 {
			return
		}
		cl.exec(fmt.Sprintf("FETCH %d:* UID", i+1), false)
	}
}

// TestConcurrentSessions runs 20 sessions on one mailbox at once:
// appending, flagging, expunging and fetching, half of them under
// QRESYNC. Every response must fit each client's view, and at the end all
// views equal the store: no duplicate UIDs, every appended and not
// expunged message present.
func TestConcurrentSessions(t *testing.T) {
	f := newFixture(t)
	for range 10 {
		f.add(msg3)
	}
	ctx := context.Background()
	const sessions, ops = 20, 25
	clients := make([]*client, sessions)
	for i := range clients {
		caps := Caps{}
		if i%2 == 1 {
			caps = Caps{QResync: true, CondStore: true}
		}
		cl := &client{c: f.open(caps, false, nil), mine: map[uint32]bool{}}
		cl.read(cl.c.out())
		for k := range cl.model {
			cl.model[k] = uint32(k + 1)
		}
		clients[i] = cl
	}
	var wg sync.WaitGroup
	for i, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 7))
			for range ops {
				switch r.IntN(4) {
				case 0: // APPEND, then its APPENDUID must be fetchable
					m, err := f.st.Append(ctx, f.box.ID, store.AppendOptions{}, []byte(msg1))
					if err != nil {
						cl.fail("append: %v", err)
						return
					}
					cl.mine[m.UID] = true
					cl.read(cl.c.sync(true))
					cl.learn()
					out := cl.run(fmt.Sprintf("UID FETCH %d (UID RFC822.SIZE)", m.UID), false)
					if !strings.Contains(out, fmt.Sprintf("(UID %d RFC822.SIZE", m.UID)) {
						cl.fail("APPENDUID %d not fetchable: %q", m.UID, out)
					}
				case 1: // flag a message by sequence number
					if len(cl.model) > 0 {
						cl.run(fmt.Sprintf("STORE %d +FLAGS (\\Flagged)", 1+r.IntN(len(cl.model))), false)
					}
				case 2: // expunge one of its own messages
					for u := range cl.mine {
						delete(cl.mine, u)
						cl.run(fmt.Sprintf("UID STORE %d +FLAGS.SILENT (\\Deleted)", u), false)
						cl.run(fmt.Sprintf("UID EXPUNGE %d", u), true)
						break
					}
				case 3:
					if len(cl.model) > 0 {
						cl.run("FETCH 1:* (UID FLAGS)", false)
					}
				}
				if cl.err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	msgs, err := f.st.Messages(ctx, f.box.ID)
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
	for i, cl := range clients {
		cl.read(cl.c.sync(true))
		if len(cl.model) > 0 {
			cl.run("FETCH 1:* UID", true)
		}
		if cl.err != nil {
			t.Errorf("session %d: %v", i, cl.err)
			continue
		}
		if !slices.Equal(cl.model, want) {
			t.Errorf("session %d ends with %v, the store has %v", i, cl.model, want)
		}
		for u := range cl.mine {
			if !slices.Contains(want, u) {
				t.Errorf("session %d: its message %d is gone", i, u)
			}
		}
	}
}
