package mailstore

import (
	"context"
	"io"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/message"
)

// StoredPartsAbove is the content size above which Parts stores the part
// tree. A smaller message is read into memory and parsed on every access,
// which costs less than a database round trip, and a client's first FETCH
// BODYSTRUCTURE of thousands of small messages writes nothing.
const StoredPartsAbove = 1 << 20

// Parts returns the MIME part tree of an opened item's content. Content
// of at most StoredPartsAbove bytes is parsed in memory. Larger content
// has its tree stored per SHA-256 (table message_parts): on first access,
// or after a parser change (message.Version), the tree is parsed from the
// blob through a bounded window and stored. Content never makes it fail;
// a read error of the blob does.
func (s *Store) Parts(ctx context.Context, b *blobstore.Blob) (*message.Part, error) {
	if b.Size() <= StoredPartsAbove {
		raw := make([]byte, b.Size())
		if _, err := io.ReadFull(io.NewSectionReader(b, 0, b.Size()), raw); err != nil {
			return nil, errs.Internalf(err, "read message %s", b.SHA256)
		}
		return message.ParseBytes(raw), nil
	}
	var version int
	var tree []byte
	err := s.d.Read().QueryRowContext(ctx, `SELECT version, tree FROM message_parts WHERE sha256 = ?`, b.SHA256).Scan(&version, &tree)
	switch {
	case err == nil && version == message.Version:
		if p, err := message.Decode(tree); err == nil {
			return p, nil
		}
	case err != nil && !db.IsNoRows(err):
		return nil, errs.Internalf(err, "read the part tree of %s", b.SHA256)
	}
	p, err := message.Parse(b, b.Size())
	if err != nil {
		return nil, errs.Internalf(err, "parse message %s", b.SHA256)
	}
	enc, err := message.Encode(p)
	if err != nil {
		return nil, errs.Internalf(err, "encode the part tree of %s", b.SHA256)
	}
	err = s.d.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO message_parts (sha256, version, tree) VALUES (?, ?, ?)
			ON CONFLICT (sha256) DO UPDATE SET version = excluded.version, tree = excluded.tree`, b.SHA256, message.Version, enc)
		return err
	})
	if err != nil {
		return nil, errs.Internalf(err, "store the part tree of %s", b.SHA256)
	}
	return p, nil
}

// PurgeParts deletes the stored part trees of content that no item
// references any more (housekeeping; a tree deleted while an item with
// that content is appended is parsed again on its first access). It
// returns the number of trees deleted.
func (s *Store) PurgeParts(ctx context.Context) (int64, error) {
	var n int64
	err := s.d.Write(ctx, func(tx *db.Tx) error {
		r, err := tx.ExecContext(ctx, `DELETE FROM message_parts WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.sha256 = message_parts.sha256)`)
		if err != nil {
			return err
		}
		n, err = r.RowsAffected()
		return err
	})
	if err != nil {
		return 0, errs.Internalf(err, "purge unreferenced part trees")
	}
	return n, nil
}
