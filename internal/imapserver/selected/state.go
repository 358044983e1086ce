package selected

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// The per-mailbox state shared by every session of this process that has
// the mailbox selected: UIDs, message ids, flags, MODSEQs, sizes and dates
// of all its messages, in a compact form (about 36 octets a message, flags
// interned), fed by store.Watch and re-read incrementally with
// store.Changes and store.MessagesFrom. A PostgreSQL backend feeds
// store.Watch from LISTEN/NOTIFY, so the same state works on every node of
// a cluster: it never assumes that a change was made in this process.
//
// Consistency: the store assigns a mailbox's MODSEQs in commit order and a
// read sees a prefix of them (one writer per mailbox). refresh reads the
// change log, then the new messages, then (if there were any) the change
// log again; after that every change with a MODSEQ up to the largest one
// of the first two reads is reflected, which is what complete records. complete is the
// HIGHESTMODSEQ sessions announce and the cursor of the next refresh.

// lingerFor is how long a mailbox state stays cached after its last
// session left, so that the next SELECT is warm.
const lingerFor = 2 * time.Minute

// ErrMailboxGone is returned by Sync and the commands when the selected
// mailbox was deleted by another session: the session ends the selection
// (RFC 9051 leaves the response open; Dovecot sends BYE).
var ErrMailboxGone = errors.New("selected mailbox was deleted")

// msgInfo is what the state keeps of one message.
type msgInfo struct {
	id     int64
	modseq uint64
	date   int64 // internal date, Unix seconds
	size   uint32
	flags  uint32 // index into the flag table
}

type stateKey struct {
	st store.Store
	id int64
}

// states holds the mailbox states of the process, per store and mailbox:
// a cache, not configuration; states of different stores never mix, so
// tests can run many servers in one process.
var states = struct {
	mu sync.Mutex
	m  map[stateKey]*mailboxState
}{m: map[stateKey]*mailboxState{}}

type mailboxState struct {
	key  stateKey
	refs int         // guarded by states.mu
	idle *time.Timer // linger timer while refs == 0; guarded by states.mu

	// Two store.Watch subscriptions: wake is read by the forwarder, which
	// marks the state dirty and wakes the views (IDLE); poll is never
	// waited on, only polled by refresh, so a change this process made
	// and whose call has returned (an APPEND) is always seen there: the
	// store sends into its buffer before the write returns, whereas a
	// send to a waiting forwarder completes before the forwarder runs.
	// They are set by start; watchMu orders that against stop.
	watchMu         sync.Mutex
	wake, pollc     <-chan struct{}
	cancel, cancel2 func()
	quit            chan struct{}
	dirty           atomic.Bool

	loadOnce sync.Once
	loadErr  error

	refreshMu sync.Mutex // one refresh at a time

	mu       sync.RWMutex
	uids     []uint32 // ascending; a published backing array is never rewritten below its length
	info     []msgInfo
	gen      uint64 // bumped when uids gets a new backing array (expunge)
	flags    flagTable
	complete uint64 // every change with MODSEQ <= complete is reflected
	uidNext  uint32
	flagMod  uint64 // largest MODSEQ of a flag change applied
	gone     bool

	viewsMu sync.Mutex
	views   map[*View]struct{}
}

// acquire returns the loaded state of a mailbox, counting a reference.
func acquire(ctx context.Context, st store.Store, id int64) (*mailboxState, error) {
	k := stateKey{st, id}
	states.mu.Lock()
	s := states.m[k]
	if s == nil || s.isGone() {
		if s != nil {
			s.stop()
		}
		s = &mailboxState{key: k, quit: make(chan struct{}), views: map[*View]struct{}{}}
		states.m[k] = s
	}
	s.refs++
	if s.idle != nil {
		s.idle.Stop()
		s.idle = nil
	}
	states.mu.Unlock()
	s.loadOnce.Do(func() { s.loadErr = s.start(ctx) })
	if s.loadErr != nil {
		s.release()
		states.mu.Lock()
		if states.m[k] == s {
			delete(states.m, k)
			s.stop()
		}
		states.mu.Unlock()
		return nil, s.loadErr
	}
	return s, nil
}

func (s *mailboxState) isGone() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.gone
}

// release drops a reference; the last one starts the linger timer.
func (s *mailboxState) release() {
	states.mu.Lock()
	defer states.mu.Unlock()
	s.refs--
	if s.refs > 0 {
		return
	}
	s.idle = time.AfterFunc(lingerFor, func() {
		states.mu.Lock()
		defer states.mu.Unlock()
		if s.refs == 0 && states.m[s.key] == s {
			delete(states.m, s.key)
			s.stop()
		}
	})
}

// start watches the mailbox, then loads it: the watch is in place
// before the read, so no change after the read goes unnoticed. It runs
// once, outside states.mu (a watch may take a round trip to the
// database).
func (s *mailboxState) start(ctx context.Context) error {
	st, id := s.key.st, s.key.id
	wake, cancel, err := st.Watch(ctx, id)
	if err != nil {
		return err
	}
	pollc, cancel2, err := st.Watch(ctx, id)
	if err != nil {
		cancel()
		return err
	}
	s.watchMu.Lock()
	s.wake, s.pollc, s.cancel, s.cancel2 = wake, pollc, cancel, cancel2
	s.watchMu.Unlock()
	select {
	case <-s.quit: // stopped meanwhile (never seen: the caller holds a reference)
		cancel()
		cancel2()
		return ErrMailboxGone
	default:
	}
	go s.forward(wake)
	return s.load(ctx)
}

// stop ends the watch; called with states.mu held, once.
func (s *mailboxState) stop() {
	select {
	case <-s.quit:
	default:
		close(s.quit)
		s.watchMu.Lock()
		defer s.watchMu.Unlock()
		if s.cancel != nil {
			s.cancel()
			s.cancel2()
		}
	}
}

// forward turns the store's notifications into a dirty state and wakes
// the views (their Notify callbacks).
func (s *mailboxState) forward(wake <-chan struct{}) {
	for {
		select {
		case <-wake:
			s.signal()
		case <-s.quit:
			return
		}
	}
}

func (s *mailboxState) signal() {
	s.dirty.Store(true)
	s.viewsMu.Lock()
	for v := range s.views {
		if v.notify != nil {
			v.notify()
		}
	}
	s.viewsMu.Unlock()
}

// poll marks the state dirty if a change was notified, so that a change
// the caller itself just made (an APPEND) is seen at once.
func (s *mailboxState) poll() {
	select {
	case <-s.pollc:
		s.dirty.Store(true)
	default:
	}
}

func (s *mailboxState) addView(v *View) {
	s.viewsMu.Lock()
	s.views[v] = struct{}{}
	s.viewsMu.Unlock()
}

func (s *mailboxState) removeView(v *View) {
	s.viewsMu.Lock()
	delete(s.views, v)
	s.viewsMu.Unlock()
}

// load reads the whole mailbox. The messages reflect every change up to
// their largest MODSEQ; the first refresh (marked due here) reads the
// change log from there. The store's UIDNEXT, which may be beyond the last
// message when the last ones were expunged, is read beside (it only
// grows, so any value read during the load is right to announce).
func (s *mailboxState) load(ctx context.Context) error {
	st := s.key.st
	statusc := make(chan store.MailboxStatus, 1)
	go func() {
		status, _ := st.MailboxStatus(ctx, s.key.id)
		statusc <- status
	}()
	msgs, err := st.Messages(ctx, s.key.id)
	status := <-statusc
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.uids = make([]uint32, 0, len(msgs)+len(msgs)/8+16)
	s.info = make([]msgInfo, 0, cap(s.uids))
	s.gen = 1
	for _, m := range msgs {
		s.complete = max(s.complete, m.ModSeq)
	}
	s.uidNext = max(status.UIDNext, 1)
	s.addMessages(msgs)
	s.dirty.Store(true)
	return nil
}

// addMessages appends messages newer than the last UID; s.mu held.
func (s *mailboxState) addMessages(msgs []store.Message) {
	for _, m := range msgs {
		if n := len(s.uids); n > 0 && m.UID <= s.uids[n-1] {
			continue
		}
		s.uids = append(s.uids, m.UID)
		s.info = append(s.info, msgInfo{
			id: m.ID, modseq: m.ModSeq, date: m.InternalDate.Unix(),
			size: uint32(min(m.Size, 1<<32-1)), flags: s.flags.intern(m.Flags),
		})
		s.uidNext = max(s.uidNext, m.UID+1)
	}
}

// index returns the position of uid in s.uids, or -1; s.mu held.
func (s *mailboxState) index(uid uint32) int {
	i, ok := slices.BinarySearch(s.uids, uid)
	if !ok {
		return -1
	}
	return i
}

// setFlags records a message's flags at modseq if that is newer than what
// the state has; s.mu held.
func (s *mailboxState) setFlags(uid uint32, modseq uint64, flags []string) {
	i := s.index(uid)
	if i < 0 || s.info[i].modseq >= modseq {
		return
	}
	s.info[i].modseq = modseq
	s.info[i].flags = s.flags.intern(flags)
	s.flagMod = max(s.flagMod, modseq)
}

// remove drops expunged messages; the UID array is copied, since views
// share the old one; s.mu held.
func (s *mailboxState) remove(gone []uint32) {
	if len(gone) == 0 {
		return
	}
	slices.Sort(gone)
	uids := make([]uint32, 0, cap(s.uids))
	info := make([]msgInfo, 0, cap(s.uids))
	j := 0
	removed := false
	for i, uid := range s.uids {
		for j < len(gone) && gone[j] < uid {
			j++
		}
		if j < len(gone) && gone[j] == uid {
			removed = true
			continue
		}
		uids = append(uids, uid)
		info = append(info, s.info[i])
	}
	if !removed {
		return
	}
	s.uids, s.info = uids, info
	s.gen++
}

// apply records change-log entries; s.mu held.
func (s *mailboxState) apply(changes []store.Change) {
	var gone []uint32
	for _, c := range changes {
		s.uidNext = max(s.uidNext, c.UID+1)
		switch c.Kind {
		case store.ChangeFlags:
			s.setFlags(c.UID, c.ModSeq, c.Flags)
		case store.ChangeExpunge:
			gone = append(gone, c.UID)
		}
	}
	s.remove(gone)
}

// refresh brings the state up to date with the store if a notification
// came since the last refresh.
func (s *mailboxState) refresh(ctx context.Context) error {
	s.poll()
	// Always take the lock: a refresh in progress may be the one reading
	// a change the caller made (another caller took its notification),
	// and the caller must see it when Sync returns.
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	if !s.dirty.Swap(false) {
		return s.goneErr()
	}
	st, id := s.key.st, s.key.id
	s.mu.RLock()
	// Messages are read from the one after the last loaded, not from
	// uidNext: change-log entries of messages not loaded yet move uidNext.
	since, next := s.complete, uint32(1)
	if n := len(s.uids); n > 0 {
		next = s.uids[n-1] + 1
	}
	s.mu.RUnlock()
	first, err := st.Changes(ctx, id, since)
	if err == nil {
		var msgs []store.Message
		msgs, err = st.MessagesFrom(ctx, id, next)
		if err == nil {
			upto := since
			for _, c := range first {
				upto = max(upto, c.ModSeq)
			}
			// Without new messages the first read alone makes the state
			// complete up to its largest MODSEQ; with them, changes made
			// between the two reads are read again so that complete can
			// cover the new messages' MODSEQs too.
			var second []store.Change
			if len(msgs) > 0 {
				second, err = st.Changes(ctx, id, upto)
			}
			if err == nil {
				for _, m := range msgs {
					upto = max(upto, m.ModSeq)
				}
				s.mu.Lock()
				s.addMessages(msgs)
				s.apply(first)
				s.apply(second)
				s.complete = max(s.complete, upto)
				s.mu.Unlock()
				return nil
			}
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		s.mu.Lock()
		s.gone = true
		s.mu.Unlock()
		return ErrMailboxGone
	}
	s.dirty.Store(true) // try again next time
	return err
}

func (s *mailboxState) goneErr() error {
	if s.isGone() {
		return ErrMailboxGone
	}
	return nil
}

// applyUpdated records the result of this process's own UpdateFlags at
// once, before the notification comes back.
func (s *mailboxState) applyUpdated(updated []store.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range updated {
		s.setFlags(m.UID, m.ModSeq, m.Flags)
	}
}

// applyExpunged records this process's own expunge at once.
func (s *mailboxState) applyExpunged(uids []uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remove(slices.Clone(uids))
}
