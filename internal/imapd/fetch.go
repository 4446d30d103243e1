package imapd

import (
	"io"
	"math"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/message"
)

// maxHeaderRead caps how much of a message is read to find its header
// when only the ENVELOPE is needed.
const maxHeaderRead = 1 << 20

// Fetch implements imapserver.Session. Metadata comes from the store's
// item rows; BODY[] (and its partial ranges) streams the stored bytes
// unchanged; other sections, ENVELOPE and BODYSTRUCTURE are cut from the
// stored bytes by this package's tolerant MIME parser. A body section
// without .PEEK sets \Seen (unless the folder is read-only), and the FETCH
// response then includes FLAGS.
func (s *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	sel, err := s.selectedFolder()
	if err != nil {
		return err
	}
	refs := s.resolve(numSet)
	if len(refs) == 0 {
		return nil
	}
	items, err := s.srv.store.Fetch(s.ctx, sel.mb.ID, sel.folder.ID, uidSetOf(refs))
	if err != nil {
		return s.imapError(err)
	}
	byUID := make(map[uint32]*mailstore.Item, len(items))
	for i := range items {
		byUID[items[i].UID] = &items[i]
	}
	setSeen := false
	for _, bs := range options.BodySection {
		setSeen = setSeen || !bs.Peek
	}
	for _, bs := range options.BinarySection {
		setSeen = setSeen || !bs.Peek
	}
	flagsChanged := map[uint32]bool{}
	if setSeen && !sel.readOnly {
		flagsChanged = s.markSeen(sel, items)
	}
	if options.Flags || len(flagsChanged) > 0 {
		lists := make([][]string, len(items))
		for i := range items {
			lists[i] = items[i].Flags
		}
		if err := s.announceKeywords(lists...); err != nil {
			return err
		}
	}
	for _, ref := range refs {
		it := byUID[ref.uid]
		if it == nil {
			continue // expunged meanwhile
		}
		if err := s.fetchOne(w, sel, ref.seq, it, options, flagsChanged[it.UID]); err != nil {
			return err
		}
	}
	return nil
}

// markSeen adds \Seen to the items that lack it (a failure, e.g. a locked
// mailbox, leaves them unseen) and returns the UIDs whose flags changed.
func (s *session) markSeen(sel *selected, items []mailstore.Item) map[uint32]bool {
	var unseen []msgRef
	for _, it := range items {
		if !mailstore.HasFlag(it.Flags, mailstore.FlagSeen) {
			unseen = append(unseen, msgRef{uid: it.UID})
		}
	}
	if len(unseen) == 0 {
		return nil
	}
	res, err := s.storeFlags(sel, unseen, mailstore.FlagsAdd, []string{mailstore.FlagSeen})
	if err != nil {
		s.log.Debug("imap: cannot set \\Seen", "err", err)
		return nil
	}
	changed := map[uint32]bool{}
	byUID := map[uint32][]string{}
	for _, r := range res {
		byUID[r.UID] = r.Flags
		changed[r.UID] = r.Changed
	}
	for i := range items {
		if f, ok := byUID[items[i].UID]; ok {
			items[i].Flags = f
		}
	}
	return changed
}

// fetchOne writes the FETCH response of one message. ENVELOPE and
// BODYSTRUCTURE come from the message's part tree (mailstore.Parts: stored,
// or parsed on first access); body and binary sections stream the byte
// ranges they serve from the blob store.
func (s *session) fetchOne(w *imapserver.FetchWriter, sel *selected, seq uint32, it *mailstore.Item, o *imap.FetchOptions, flagsChanged bool) error {
	var blob *blobstore.Blob
	var root *message.Part
	needTree := o.BodyStructure != nil || o.Envelope || len(o.BinarySection) > 0 || len(o.BinarySectionSize) > 0
	for _, bs := range o.BodySection {
		needTree = needTree || !wholeMessage(bs)
	}
	if needTree || len(o.BodySection) > 0 {
		b, err := s.srv.store.OpenUID(s.ctx, sel.mb.ID, sel.folder.ID, it.UID)
		if err != nil {
			s.log.Debug("imap: open message", "uid", it.UID, "err", err)
			return nil // expunged meanwhile: no response for it
		}
		defer b.Close()
		blob = b
		if needTree {
			if root, err = s.srv.store.Parts(s.ctx, b); err != nil {
				return s.imapError(err)
			}
		}
	}

	m := w.CreateMessage(seq)
	if o.UID {
		m.WriteUID(imap.UID(it.UID))
	}
	if o.Flags || flagsChanged {
		m.WriteFlags(sel.cv.flagsFor(it.UID, it.Flags))
	}
	if o.InternalDate {
		m.WriteInternalDate(it.InternalDate)
	}
	if o.RFC822Size {
		m.WriteRFC822Size(it.Size)
	}
	if o.Envelope {
		m.WriteEnvelope(partEnvelope(blob, root))
	}
	if o.BodyStructure != nil {
		m.WriteBodyStructure(safePartStructure(blob, root))
	}
	for _, bs := range o.BodySection {
		var spans []span
		if wholeMessage(bs) {
			spans = rangeSpans(0, blob.Size())
		} else {
			spans = sectionSpans(root, bs)
		}
		spans = cutSpans(spans, bs.Partial)
		if err := writeStream(m.WriteBodySection(bs, spansSize(spans)), spansReader(blob, spans)); err != nil {
			return err
		}
	}
	for _, bs := range o.BinarySection {
		size, open := binarySection(blob, root, bs.Part)
		off, n := partialRange(size, bs.Partial)
		r := open()
		if _, err := io.CopyN(io.Discard, r, off); err != nil {
			return s.imapError(err)
		}
		if err := writeStream(m.WriteBinarySection(bs, n), io.LimitReader(r, n)); err != nil {
			return err
		}
	}
	for _, bs := range o.BinarySectionSize {
		size, _ := binarySection(blob, root, bs.Part)
		m.WriteBinarySectionSize(bs, uint32(min(size, math.MaxUint32)))
	}
	return m.Close()
}

// writeStream copies r to a literal writer and closes it.
func writeStream(wc io.WriteCloser, r io.Reader) error {
	if _, err := io.Copy(wc, r); err != nil {
		wc.Close()
		return err
	}
	return wc.Close()
}

// readHeader reads the start of a message up to the end of its header
// block (at most maxHeaderRead bytes).
func readHeader(b *blobstore.Blob) []byte {
	n := min(b.Size(), 64<<10)
	for {
		buf := make([]byte, n)
		k, _ := b.ReadAt(buf, 0)
		buf = buf[:k]
		if body := message.Header(buf).BodyStart; body < int64(len(buf)) || int64(len(buf)) >= b.Size() || n >= maxHeaderRead {
			return buf
		}
		n = min(b.Size(), 4*n, maxHeaderRead)
	}
}
