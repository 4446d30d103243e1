package mailstore

import (
	"context"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// AppendItem is one message to append.
type AppendItem struct {
	// FolderID is the destination folder (internal id).
	FolderID int64
	// Content streams the raw message bytes, stored exactly as read.
	Content io.Reader
	// SHA256 names content the blob store already holds when Content is
	// nil: no bytes are written or transferred again. Such a reference is
	// allowed only when the mailbox's tenant already holds the content
	// (see HeldContent) or Received is set; otherwise Add refuses it with
	// ErrContentNotHeld. With Content, it is the expected hash: content
	// that hashes differently is refused (ContentMismatch), so a copy is
	// verified while it streams, without a second pass.
	SHA256 string
	// Received, with SHA256 and no Content, says that the caller itself
	// received and hashed exactly these bytes for this item and holds its
	// own reference to them (the delivery queue's copy of a message it
	// accepted). Never set it for a hash that another party claims.
	Received bool
	// Flags are the initial flags (normalized; invalid ones are an error).
	Flags []string
	// InternalDate defaults to now.
	InternalDate time.Time
	// Origin is an optional idempotency key unique within the mailbox (a
	// source item id, a delivery id). Appending an origin that exists
	// returns the existing item, wherever it is now, and adds nothing.
	Origin string
	// Name and ObjectUID are a calendar or contact object's resource name
	// and UID (see Item); replication passes them on. CalDAV/CardDAV
	// writes use PutNamed, which keeps them unique in the folder.
	Name, ObjectUID string
}

// Appended is the result of appending one item.
type Appended struct {
	ItemID      int64  // stable item id
	FolderID    int64  // folder holding the item
	UID         uint32 // UID in that folder
	UIDValidity uint32 // that folder's UIDVALIDITY (for APPENDUID)
	ModSeq      int64  // the item's MODSEQ
	SHA256      string // hex SHA-256 of the raw bytes
	Size        int64  // size of the raw bytes
	// Existing is set when the origin was already present: the fields
	// describe that item and nothing was added.
	Existing bool
}

// AppendBatch appends many items with one fsync and one transaction. Use it
// from one goroutine: Add items (each streams to disk immediately), Commit,
// and Close in any case.
type AppendBatch struct {
	s         *Store
	mailboxID int64
	blobs     *blobstore.Batch
	items     []batchItem
	hdrs      map[string]HeaderFields // sha256 → header of content added here
	trees     map[string][]byte       // sha256 → encoded part tree of large content added here
	held      map[string]bool         // sha256 → reuse allowed (sent here, held by the tenant)
	bytes     int64
	closed    bool
}

type batchItem struct {
	folderID int64
	ref      blobstore.Ref
	reuse    bool // content named by SHA256, not added to this batch
	flags    string
	internal int64
	origin   string
	hdr      HeaderFields
	name     string
	objUID   string
}

// NewAppendBatch starts a batch of appends to a mailbox.
func (s *Store) NewAppendBatch(mailboxID int64) *AppendBatch {
	return s.newAppendBatch(mailboxID, s.blobs.NewBatch())
}

func (s *Store) newAppendBatch(mailboxID int64, blobs *blobstore.Batch) *AppendBatch {
	return &AppendBatch{s: s, mailboxID: mailboxID, blobs: blobs, hdrs: map[string]HeaderFields{}, trees: map[string][]byte{}, held: map[string]bool{}}
}

// NewBudgetedAppendBatch is NewAppendBatch whose blob buffers are shares
// of the node's blob memory budget (blobstore.Store.NewBudgetedBatch): for
// sync passes, never for writes paced by a client. An Add waiting for
// room in the budget returns when ctx ends (the pass's context).
func (s *Store) NewBudgetedAppendBatch(ctx context.Context, mailboxID int64) *AppendBatch {
	return s.newAppendBatch(mailboxID, s.blobs.NewBudgetedBatch(ctx))
}

// Len returns the number of items added.
func (b *AppendBatch) Len() int { return len(b.items) }

// LastSHA256 returns the hex SHA-256 of the content of the item Add added
// last ("" before the first Add): the hash computed while the bytes
// streamed in, for a caller that had no expected hash.
func (b *AppendBatch) LastSHA256() string {
	if len(b.items) == 0 {
		return ""
	}
	return b.items[len(b.items)-1].ref.SHA256
}

// Bytes returns the total size of the items added.
func (b *AppendBatch) Bytes() int64 { return b.bytes }

// captureReader enforces the size limit, keeps the start of the message
// for header parsing and feeds the part tree builder.
type captureReader struct {
	r     io.Reader
	n     int64
	max   int64
	head  []byte
	parts *ContentParser // nil: no part tree (CalDAV/CardDAV objects, never FETCHed)
}

func (c *captureReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.parts != nil {
		c.parts.Write(p[:n])
	}
	if room := maxHeaderCapture - len(c.head); room > 0 && n > 0 {
		c.head = append(c.head, p[:min(n, room)]...)
	}
	c.n += int64(n)
	if c.max > 0 && c.n > c.max {
		return n, errItemTooLarge(c.max)
	}
	return n, err
}

// Add streams one item into the batch (its bytes are on disk, not yet
// durable, when Add returns). An error abandons this item only; the batch
// stays usable.
func (b *AppendBatch) Add(ctx context.Context, it AppendItem) error {
	if b.closed {
		return errs.Internalf(errors.New("batch closed"), "append to a closed batch")
	}
	if it.FolderID == 0 {
		return errFolderNotFound("0")
	}
	flags, err := NormalizeFlags(it.Flags)
	if err != nil {
		return err
	}
	if len(it.Origin) > 512 || !utf8.ValidString(it.Origin) || strings.IndexByte(it.Origin, 0) >= 0 {
		return errs.Invalidf("InvalidOrigin", "the item origin is not a valid key").WithHint("use at most 512 bytes of UTF-8 text")
	}
	if err := validObjectKeys(it.Name, it.ObjectUID); err != nil {
		return err
	}
	bi := batchItem{folderID: it.FolderID, flags: flagString(flags), origin: it.Origin, name: it.Name, objUID: it.ObjectUID}
	if it.InternalDate.IsZero() {
		bi.internal = db.Now()
	} else {
		bi.internal = it.InternalDate.UnixMilli()
	}
	switch {
	case it.Content != nil:
		cr := &captureReader{r: it.Content, max: b.s.MaxItemSize, parts: NewContentParser()}
		defer cr.parts.Close()
		ref, err := b.blobs.Add(cr)
		if err != nil {
			return err
		}
		if it.SHA256 != "" && !strings.EqualFold(it.SHA256, ref.SHA256) {
			return errs.New(errs.Unavailable, "ContentMismatch", "the content's SHA-256 is %s, not the expected %s", ref.SHA256, it.SHA256).
				WithHint("the copy was corrupted in transit; it is retried")
		}
		if tree := cr.parts.Tree(); tree != nil {
			if b.trees[ref.SHA256], err = EncodeParts(ref.SHA256, tree); err != nil {
				return err
			}
		}
		bi.ref, bi.hdr = ref, ParseHeader(cr.head)
		b.hdrs[ref.SHA256] = bi.hdr
		b.held[ref.SHA256] = true
	case it.SHA256 != "":
		sha := strings.ToLower(it.SHA256)
		if !blobstore.ValidSHA256(sha) {
			return errs.Invalidf("InvalidSHA256", "%q is not a SHA-256", it.SHA256).WithHint("give 64 hex digits")
		}
		if !it.Received && !b.held[sha] {
			held, err := heldContent(ctx, b.s.d.Dialect, b.s.d.Read(), b.mailboxID, []string{sha})
			if err != nil {
				return err
			}
			if !held[sha] {
				return errContentNotHeld(sha)
			}
			b.held[sha] = true
		}
		if h, ok := b.hdrs[sha]; ok { // the same content earlier in this batch
			for _, x := range b.items {
				if x.ref.SHA256 == sha {
					bi.ref, bi.reuse = x.ref, x.reuse
					break
				}
			}
			bi.hdr = h
			break
		}
		bl, err := b.s.blobs.Open(ctx, sha)
		if err != nil {
			return err
		}
		head := make([]byte, min(bl.Size(), maxHeaderCapture))
		_, err = io.ReadFull(bl, head)
		bl.Close()
		if err != nil {
			return errs.Internalf(err, "read blob %s", sha)
		}
		if b.s.MaxItemSize > 0 && bl.Size() > b.s.MaxItemSize {
			return errItemTooLarge(b.s.MaxItemSize)
		}
		bi.ref, bi.reuse, bi.hdr = blobstore.Ref{SHA256: sha, Size: bl.Size()}, true, ParseHeader(head)
		b.hdrs[sha] = bi.hdr
	default:
		return errs.Invalidf("NoContent", "an appended item needs content or the SHA-256 of stored content")
	}
	b.items = append(b.items, bi)
	b.bytes += bi.ref.Size
	return nil
}

// Commit makes the batch's bytes durable (one fsync), then in one
// transaction records the blobs and the part trees built while large
// content streamed in (see Parts), inserts the items (UIDs in Add order per
// folder, one MODSEQ), and runs hook if not nil. It returns one Appended per
// Add, in order. Nothing is visible, and nothing is published, unless it all
// commits.
func (b *AppendBatch) Commit(ctx context.Context, hook func(tx *db.Tx) error) ([]Appended, error) {
	if b.closed {
		return nil, errs.Internalf(errors.New("batch closed"), "commit a closed batch")
	}
	if err := b.blobs.Sync(); err != nil {
		return nil, err
	}
	var out []Appended
	err := b.s.mutate(ctx, b.mailboxID, func(m *mutation) error {
		out = make([]Appended, len(b.items))
		m.keep = hook != nil
		if err := b.blobs.Commit(ctx, m.tx); err != nil {
			return err
		}
		if err := b.checkReused(m); err != nil {
			return err
		}
		for _, sha := range slices.Sorted(maps.Keys(b.trees)) { // one lock order
			if err := SaveParts(m.ctx, m.tx, sha, b.trees[sha]); err != nil {
				return err
			}
		}
		firstOf := map[string]int{} // origin → index of its first item here
		var rows []itemRow
		var rowIdx []int // rows[k] is out[rowIdx[k]]
		perFolder := map[int64]int{}
		var folders []int64
		for i, it := range b.items {
			if it.origin != "" {
				if _, ok := firstOf[it.origin]; ok {
					continue // a duplicate inside the batch: filled in below
				}
				firstOf[it.origin] = i
			}
			if perFolder[it.folderID] == 0 {
				folders = append(folders, it.folderID)
			}
			perFolder[it.folderID]++
			rows = append(rows, itemRow{folderID: it.folderID, modseq: m.modseq, flags: it.flags, internalDate: it.internal,
				size: it.ref.Size, sha256: it.ref.SHA256, origin: it.origin, subject: it.hdr.Subject,
				messageID: it.hdr.MessageID, from: it.hdr.From, sentDate: db.Millis(it.hdr.Date), name: it.name, objectUID: it.objUID})
			rowIdx = append(rowIdx, i)
		}
		next := map[int64]uint32{}
		uidv := map[int64]uint32{}
		for _, f := range folders {
			first, uv, err := m.allocUIDs(f, perFolder[f])
			if err != nil {
				return err
			}
			next[f], uidv[f] = first, uv
		}
		for k := range rows {
			rows[k].uid = next[rows[k].folderID]
			next[rows[k].folderID]++
		}
		// Rows whose origin exists are skipped by the insert (their UIDs
		// stay unused, which IMAP allows) and reported as Existing.
		if err := m.insertRows(rows); err != nil {
			return err
		}
		inserted := rows[:0:0]
		for k, r := range rows {
			if r.id == 0 {
				a, err := existingOrigin(m, r.origin)
				if err != nil {
					return err
				}
				out[rowIdx[k]] = a
				continue
			}
			inserted = append(inserted, r)
			out[rowIdx[k]] = Appended{ItemID: r.id, FolderID: r.folderID, UID: r.uid, UIDValidity: uidv[r.folderID],
				ModSeq: m.modseq, SHA256: r.sha256, Size: r.size}
		}
		for i, it := range b.items {
			if j, ok := firstOf[it.origin]; ok && it.origin != "" && j != i {
				out[i] = out[j]
				out[i].Existing = true
			}
		}
		m.emitByFolder(EventAppended, inserted, true)
		if hook != nil {
			return hook(m.tx)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkReused references the committed content named by SHA-256 (see
// blobstore.Store.Reference): it must still exist, and GC must see it used.
func (b *AppendBatch) checkReused(m *mutation) error {
	var shas []string
	seen := map[string]bool{}
	for _, it := range b.items {
		if it.reuse && !seen[it.ref.SHA256] {
			seen[it.ref.SHA256] = true
			shas = append(shas, it.ref.SHA256)
		}
	}
	return b.s.blobs.Reference(m.ctx, m.tx, shas)
}

// existingOrigin returns the item of the mailbox that carries origin.
func existingOrigin(m *mutation, origin string) (Appended, error) {
	var a Appended
	var uid, uv int64
	err := m.tx.QueryRowContext(m.ctx, `SELECT i.id, i.folder_id, i.uid, f.uidvalidity, i.modseq, i.sha256, i.size
		FROM items i JOIN folders f ON f.id = i.folder_id WHERE i.mailbox_id = ? AND i.origin = ?`, m.mb, origin).
		Scan(&a.ItemID, &a.FolderID, &uid, &uv, &a.ModSeq, &a.SHA256, &a.Size)
	if err != nil {
		return a, errs.Internalf(err, "look up origin %q", origin)
	}
	a.UID, a.UIDValidity, a.Existing = uint32(uid), uint32(uv), true
	return a, nil
}

// Close releases the batch. The bytes of a batch closed without a
// successful Commit are garbage in the blob store.
func (b *AppendBatch) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	return b.blobs.Close()
}

// Append stores one message: its bytes are written and fsynced, then one
// transaction inserts the item. See AppendItem for the origin semantics.
func (s *Store) Append(ctx context.Context, mailboxID int64, it AppendItem) (Appended, error) {
	out, err := s.AppendMany(ctx, mailboxID, []AppendItem{it}, nil)
	if err != nil {
		return Appended{}, err
	}
	return out[0], nil
}

// AppendMany appends items with one fsync and one transaction, running hook
// in that transaction. For streams of unknown length use NewAppendBatch.
func (s *Store) AppendMany(ctx context.Context, mailboxID int64, items []AppendItem, hook func(tx *db.Tx) error) ([]Appended, error) {
	b := s.NewAppendBatch(mailboxID)
	defer b.Close()
	for _, it := range items {
		if err := b.Add(ctx, it); err != nil {
			return nil, err
		}
	}
	return b.Commit(ctx, hook)
}
