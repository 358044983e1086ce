package store

import "sync"

// Notifier is the in-process hub behind Mail.Watch and Mail.WatchAccount,
// shared by backends: a backend calls Notify after each committed write,
// for every mailbox the write touched. The SQLite backend calls it from
// its writer after COMMIT; a PostgreSQL backend would call it from the
// listener of its LISTEN/NOTIFY channel (every node, its own writes
// included), so sessions on any node see every change. The zero value is
// ready to use.
type Notifier struct {
	mu        sync.Mutex
	mailboxes map[int64][]*watcher
	accounts  map[int64][]*watcher
}

type watcher struct{ ch chan struct{} }

// Watch implements Mail.Watch.
func (n *Notifier) Watch(mailboxID int64) (<-chan struct{}, func()) {
	return n.add(&n.mailboxes, mailboxID)
}

// WatchAccount implements Mail.WatchAccount.
func (n *Notifier) WatchAccount(accountID int64) (<-chan struct{}, func()) {
	return n.add(&n.accounts, accountID)
}

func (n *Notifier) add(m *map[int64][]*watcher, id int64) (<-chan struct{}, func()) {
	w := &watcher{ch: make(chan struct{}, 1)}
	n.mu.Lock()
	if *m == nil {
		*m = map[int64][]*watcher{}
	}
	(*m)[id] = append((*m)[id], w)
	n.mu.Unlock()
	var once sync.Once
	return w.ch, func() {
		once.Do(func() {
			n.mu.Lock()
			defer n.mu.Unlock()
			list := (*m)[id]
			for i, x := range list {
				if x == w {
					list[i] = list[len(list)-1]
					list[len(list)-1] = nil
					list = list[:len(list)-1]
					break
				}
			}
			if len(list) == 0 {
				delete(*m, id)
			} else {
				(*m)[id] = list
			}
		})
	}
}

// Notify wakes the watchers of a mailbox and of its account. mailboxID 0
// wakes only the account's watchers (a mailbox created, a subscription
// changed); accountID 0 only the mailbox's. It never blocks.
func (n *Notifier) Notify(accountID, mailboxID int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if mailboxID != 0 {
		wake(n.mailboxes[mailboxID])
	}
	if accountID != 0 {
		wake(n.accounts[accountID])
	}
}

func wake(list []*watcher) {
	for _, w := range list {
		select {
		case w.ch <- struct{}{}:
		default: // a wake-up is already pending: coalesced
		}
	}
}

// NotifyAll wakes every watcher, of every mailbox and account: for a
// backend that may have missed changes (a PostgreSQL LISTEN connection
// lost and re-established), so watchers re-read what they show.
func (n *Notifier) NotifyAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, list := range n.mailboxes {
		wake(list)
	}
	for _, list := range n.accounts {
		wake(list)
	}
}
