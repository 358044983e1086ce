package selected

import (
	"bufio"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/posthorn/posthorn/internal/imap"
	"github.com/posthorn/posthorn/internal/store"
)

// failingWatches is a store whose failAt-th Watch fails (as a PostgreSQL
// store's does when it cannot register the watch), counting the watches
// not yet cancelled.
type failingWatches struct {
	store.Store
	mu     sync.Mutex
	failAt int
	calls  int
	active int
}

var errWatch = errors.New("watch registration failed")

func (f *failingWatches) Watch(ctx context.Context, id int64) (<-chan struct{}, func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls++; f.calls == f.failAt {
		return nil, nil, errWatch
	}
	ch, cancel, err := f.Store.Watch(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	f.active++
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			cancel()
			f.mu.Lock()
			f.active--
			f.mu.Unlock()
		})
	}, nil
}

// TestOpenWatchFails: a SELECT whose watch cannot be set up fails with
// the store's error, keeps no watch and no mailbox state, and the next
// SELECT starts afresh.
func TestOpenWatchFails(t *testing.T) {
	for _, failAt := range []int{1, 2} { // the state's first or second watch
		f := newFixture(t)
		f.add("Subject: a\r\n\r\nx\r\n")
		st := &failingWatches{Store: f.st, failAt: failAt}
		caps := Caps{}
		if _, err := Open(context.Background(), st, f.box, false, &caps, nil, nil); !errors.Is(err, errWatch) {
			t.Fatalf("watch %d failing: Open returned %v, want the watch's error", failAt, err)
		}
		st.mu.Lock()
		active := st.active
		st.mu.Unlock()
		if active != 0 {
			t.Fatalf("watch %d failing: %d watches left running", failAt, active)
		}
		states.mu.Lock()
		_, cached := states.m[stateKey{st, f.box.ID}]
		states.mu.Unlock()
		if cached {
			t.Fatalf("watch %d failing: the failed state stays cached", failAt)
		}
		c := &conn{t: t, caps: caps}
		c.bw = bufio.NewWriter(&c.buf)
		c.w = imap.NewWriter(c.bw)
		v, err := Open(context.Background(), st, f.box, false, &c.caps, nil, c.w)
		if err != nil {
			t.Fatalf("watch %d failing: the next Open: %v", failAt, err)
		}
		v.Release()
	}
}
