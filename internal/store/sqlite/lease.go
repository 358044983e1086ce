package sqlite

import (
	"database/sql"
	"math/rand/v2"
)

// lease gives each row of table whose id the query selectDue returns
// (with args) a new random lease token and next_attempt = until, the
// lease's end, and returns the ids in the query's order. The queue and
// the webhook outbox claim their due rows this way.
func (w *wtx) lease(table, selectDue string, until int64, args ...any) ([]int64, error) {
	rows, err := w.query(selectDue, args...)
	if err != nil {
		return nil, err
	}
	ids, err := collect(rows, func(r *sql.Rows) (int64, error) {
		var id int64
		return id, r.Scan(&id)
	})
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		token := rand.Int64N(1<<62) + 1
		if _, err := w.exec(`UPDATE `+table+` SET lease = ?, next_attempt = ? WHERE id = ?`, token, until, id); err != nil {
			return nil, err
		}
	}
	return ids, nil
}
