package sqlite

// Change notification: the writer records the mailboxes each request
// touches (wtx.touch) and, after COMMIT, wakes their watchers through a
// store.Notifier. Writes by another process (the CLI) are not seen.

// Watch implements store.Mail; the writer notifies after each COMMIT.
func (s *Store) Watch(mailboxID int64) (<-chan struct{}, func()) { return s.notify.Watch(mailboxID) }

// WatchAccount implements store.Mail.
func (s *Store) WatchAccount(accountID int64) (<-chan struct{}, func()) {
	return s.notify.WatchAccount(accountID)
}
