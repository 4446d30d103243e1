package mailstore

import (
	"context"
	"io"
	"sync"

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
// has its tree stored per SHA-256 (table message_parts), built while the
// bytes were written (ContentParser, SaveParts); content stored before
// that, or whose tree is of another parser version (message.Version), or
// was purged, has it parsed from the blob through a bounded window on
// first access and stored (the lazy migration). Content never makes it fail;
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
	enc, err := EncodeParts(b.SHA256, p)
	if err != nil {
		return nil, err
	}
	err = s.d.Write(ctx, func(tx *db.Tx) error { return SaveParts(ctx, tx, b.SHA256, enc) })
	if err != nil {
		return nil, err
	}
	return p, nil
}

// ContentParser builds the part tree of content while it is written to
// the blob store (an io.Writer to tee the stream into), so that content
// above StoredPartsAbove has its tree stored with it and is never read
// back to be parsed. The first headStart bytes are only kept (in a pooled
// buffer); beyond them they are fed to a message.Builder, and the rest
// streams through it: memory stays bounded whatever the size, and
// concurrent writes never each hold a copy of up to StoredPartsAbove
// bytes. (Content between headStart and StoredPartsAbove is parsed and
// its tree dropped: such content is parsed on access.)
// Call Close when done.
type ContentParser struct {
	head *[]byte
	b    *message.Builder
	n    int64
}

// headStart is how much of the content is kept before the part tree
// builder starts.
const headStart = 64 << 10

var headPool = sync.Pool{New: func() any { b := make([]byte, 0, headStart); return &b }}

// NewContentParser returns a ContentParser at the start of a message.
func NewContentParser() *ContentParser {
	h := headPool.Get().(*[]byte)
	*h = (*h)[:0]
	return &ContentParser{head: h}
}

// Write parses p; it never fails.
func (c *ContentParser) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	if c.b == nil && c.n <= headStart {
		*c.head = append(*c.head, p...)
		return len(p), nil
	}
	if c.b == nil {
		c.b = message.NewBuilder()
		c.b.Write(*c.head)
		c.release()
	}
	return c.b.Write(p)
}

// Tree returns the part tree of the content written, or nil when it is at
// most StoredPartsAbove bytes (such content is parsed on access, never
// stored).
func (c *ContentParser) Tree() *message.Part {
	c.release()
	if c.b == nil || c.n <= StoredPartsAbove {
		return nil
	}
	return c.b.Tree()
}

// Close releases the buffer.
func (c *ContentParser) Close() { c.release() }

func (c *ContentParser) release() {
	if c.head != nil {
		headPool.Put(c.head)
		c.head = nil
	}
}

// EncodeParts encodes a tree from ContentParser.Tree for SaveParts.
func EncodeParts(sha string, p *message.Part) ([]byte, error) {
	enc, err := message.Encode(p)
	if err != nil {
		return nil, errs.Internalf(err, "encode the part tree of %s", sha)
	}
	return enc, nil
}

// SaveParts stores the encoded part tree (EncodeParts) of the content
// named sha in the caller's transaction: the write paths that store
// content (AppendBatch, the delivery queue) record the tree they built
// while the bytes streamed in the transaction that records the bytes.
func SaveParts(ctx context.Context, tx *db.Tx, sha string, enc []byte) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO message_parts (sha256, version, tree) VALUES (?, ?, ?)
		ON CONFLICT (sha256) DO UPDATE SET version = excluded.version, tree = excluded.tree`, sha, message.Version, enc)
	if err != nil {
		return errs.Internalf(err, "store the part tree of %s", sha)
	}
	return nil
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
