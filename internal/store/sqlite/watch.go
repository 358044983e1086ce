package sqlite

import "context"

// Change notification: the writer records the mailboxes each request
// touches (wtx.touch) and, after COMMIT, wakes their watchers through a
// store.Notifier. Writes by another process (the CLI) are not seen.

// Watch implements store.Mail; the writer notifies after each COMMIT, so
// a watch needs no registration and never fails.
func (s *Store) Watch(_ context.Context, mailboxID int64) (<-chan struct{}, func(), error) {
	ch, cancel := s.notify.Watch(mailboxID)
	return ch, cancel, nil
}

// WatchAccount implements store.Mail.
func (s *Store) WatchAccount(_ context.Context, accountID int64) (<-chan struct{}, func(), error) {
	ch, cancel := s.notify.WatchAccount(accountID)
	return ch, cancel, nil
}
