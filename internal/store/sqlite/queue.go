package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/posthorn/posthorn/internal/store"
)

// The outbound queue (store.Queue): one row per message with its body,
// its recipients in queue_recipients.

// Enqueue implements store.Queue.
func (s *Store) Enqueue(ctx context.Context, m store.QueuedMessage) (int64, error) {
	if len(m.Recipients) == 0 {
		return 0, fmt.Errorf("enqueue: no recipients: %w", store.ErrInvalid)
	}
	for _, r := range m.Recipients {
		if _, err := splitAddress(r, false); err != nil {
			return 0, fmt.Errorf("enqueue: recipient: %w", err)
		}
	}
	queued := m.Queued
	if queued.IsZero() {
		queued = time.Now()
	}
	next := m.NextAttempt
	if next.IsZero() {
		next = queued
	}
	body := nonNil(m.Body)
	var id int64
	err := s.write(ctx, func(w *wtx) error {
		var err error
		id, err = w.insert(`INSERT INTO queue (account_id, mail_from, utf8, size, queued, next_attempt, body)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			m.AccountID, m.From, m.UTF8, len(body), queued.UnixMicro(), next.UnixMicro(), body)
		if err != nil {
			return err
		}
		for i, r := range m.Recipients {
			if _, err := w.exec(`INSERT INTO queue_recipients (queue_id, position, address) VALUES (?, ?, ?)`, id, i, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// QueuedMessages implements store.Queue.
func (s *Store) QueuedMessages(ctx context.Context, limit int) ([]store.QueuedMessage, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.query(ctx, `SELECT q.id, q.account_id, q.mail_from, q.utf8, q.size, q.queued, q.next_attempt, q.attempts,
		(SELECT json_group_array(address) FROM (SELECT address FROM queue_recipients r WHERE r.queue_id = q.id ORDER BY position))
		FROM queue q ORDER BY q.id LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r *sql.Rows) (store.QueuedMessage, error) {
		var m store.QueuedMessage
		var queued, next int64
		var rcpts jsonStrings
		err := r.Scan(&m.ID, &m.AccountID, &m.From, &m.UTF8, &m.Size, &queued, &next, &m.Attempts, &rcpts)
		m.Queued, m.NextAttempt, m.Recipients = fromMicro(queued), fromMicro(next), rcpts
		return m, err
	})
}

// QueuedBody implements store.Queue.
func (s *Store) QueuedBody(ctx context.Context, id int64) ([]byte, error) {
	var body []byte
	if err := s.queryRow(ctx, `SELECT body FROM queue WHERE id = ?`, id).Scan(&body); err != nil {
		return nil, notFound(err, fmt.Sprintf("queued message %d", id))
	}
	return nonNil(body), nil
}

// jsonStrings scans a JSON array of strings (json_group_array).
type jsonStrings []string

func (j *jsonStrings) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("jsonStrings: cannot scan %T", src)
	}
	return json.Unmarshal(b, (*[]string)(j))
}
