package sqlite

import (
	"context"
	"fmt"

	"github.com/posthorn/posthorn/internal/message"
)

// The IMAP structure of each body (message.Marshal of message.Parse),
// stored in blobs.structure beside the body.

// MessageStructure implements store.Mail.
func (s *Store) MessageStructure(ctx context.Context, messageID int64) ([]byte, error) {
	var (
		blobID    int64
		structure []byte
	)
	err := s.queryRow(ctx, `SELECT b.id, b.structure FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.id = ?`,
		messageID).Scan(&blobID, &structure)
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("message %d", messageID))
	}
	if structure != nil {
		return structure, nil
	}
	// A body stored before schema version 5: parse it now, keep the result.
	body, err := s.MessageBody(ctx, messageID)
	if err != nil {
		return nil, err
	}
	p, err := message.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("message %d: %w", messageID, err)
	}
	structure = message.Marshal(p)
	err = s.write(ctx, func(w *wtx) error {
		_, err := w.exec(`UPDATE blobs SET structure = ? WHERE id = ? AND structure IS NULL`, structure, blobID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return structure, nil
}
