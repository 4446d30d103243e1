package imapd

import (
	"io"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/message"
)

// maxHeaderRead caps how much of a message is read to find its header
// when only the ENVELOPE is needed.
const maxHeaderRead = 1 << 20

// Fetch implements imapserver.Session. FETCH and UID FETCH never reach
// go-imap: filterConn answers them (fetchCommand).
func (s *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "FETCH is served below go-imap"}
}

// fetchCommand answers FETCH and UID FETCH (args: the bytes after the
// command name). Metadata comes from the store's item rows; BODY[] (and
// its partial ranges) streams the stored bytes unchanged; other sections,
// ENVELOPE and BODYSTRUCTURE are cut from the stored bytes by this
// package's tolerant MIME parser. A body section without .PEEK sets \Seen
// (unless the folder is read-only), and the FETCH response then includes
// FLAGS. The responses stream to the connection; the tagged completion is
// returned.
func (s *session) fetchCommand(tag, name, args string) []string {
	uid := name == "UID FETCH"
	if s.sel == nil {
		return []string{tag + " BAD No mailbox selected"}
	}
	q, bad := parseFetch(args, uid)
	if bad == "" && q.vanished && (!uid || q.changedSince == 0 || !s.mods.qresync) {
		bad = "VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC"
	}
	if bad != "" {
		return []string{tag + " BAD [CLIENTBUG] " + name + ": " + responseText(bad)}
	}
	if q.has(fetchModSeq) {
		s.enableCondStore() // RFC 7162 section 3.1: a CONDSTORE-enabling command
	}
	w := s.newRespWriter()
	err := s.fetch(w, q)
	if err == nil {
		err = s.writePendingUpdates(w, uid)
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return []string{s.statusLine(tag, err)}
	}
	return []string{tag + " OK " + name + " completed"}
}

// fetch writes the FETCH responses of a request.
func (s *session) fetch(w *respWriter, q *fetchRequest) error {
	sel := s.sel
	if q.vanished {
		set, _ := q.set.(imap.UIDSet)
		if imap.IsSearchRes(q.set) {
			set = s.searchRes
		}
		gone, err := s.vanishedSince(int64(q.changedSince), set)
		if err != nil {
			return s.imapError(err)
		}
		if gone != "" {
			w.WriteString("* VANISHED (EARLIER) " + gone + "\r\n")
		}
	}
	refs := s.resolve(q.set)
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
	flagsChanged := map[uint32]bool{}
	if q.setsSeen() && !sel.readOnly {
		flagsChanged = s.markSeen(sel, items)
	}
	if q.has(fetchFlags) || len(flagsChanged) > 0 {
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
		if q.changedSince > 0 && uint64(it.ModSeq) <= q.changedSince {
			continue
		}
		if err := s.fetchOne(w, sel, ref.seq, it, q, flagsChanged[it.UID]); err != nil {
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
	byUID := map[uint32]mailstore.FlagResult{}
	for _, r := range res {
		byUID[r.UID] = r
		changed[r.UID] = r.Changed
	}
	for i := range items {
		if r, ok := byUID[items[i].UID]; ok {
			items[i].Flags, items[i].ModSeq = r.Flags, r.ModSeq
		}
	}
	return changed
}

// fetchOne writes the FETCH response of one message: UID first, then
// FLAGS (also when an implicit \Seen changed them), then the other
// attributes in a fixed order (fetchRequest.ordered). ENVELOPE and BODYSTRUCTURE come from
// the message's part tree (mailstore.Parts: stored, or parsed on first
// access); body and binary sections stream the byte ranges they serve from
// the blob store.
func (s *session) fetchOne(w *respWriter, sel *selected, seq uint32, it *mailstore.Item, q *fetchRequest, flagsChanged bool) error {
	var blob *blobstore.Blob
	var root *message.Part
	needTree, needBlob := false, false
	for _, a := range q.atts {
		switch a.kind {
		case fetchEnvelope, fetchBody, fetchBodyStructure, fetchBinary, fetchBinarySize, fetchPreview:
			needTree = true
		case fetchSection:
			needBlob = true
			needTree = needTree || !wholeMessage(a.section)
		}
	}
	if needTree || needBlob {
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
	// BINARY of a part whose transfer encoding is unknown fails the
	// command before anything of the message is written (RFC 3516).
	for _, a := range q.atts {
		if (a.kind == fetchBinary || a.kind == fetchBinarySize) && unknownCTE(root, a.binary.Part) {
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnknownCTE,
				Text: "UnknownCTE: part " + partName(a.binary.Part) + " has a content transfer encoding this server cannot decode (fetch BODY instead)"}
		}
	}

	w.WriteString("* " + strconv.FormatUint(uint64(seq), 10) + " FETCH (")
	sep := false
	item := func(name string) {
		if sep {
			w.WriteByte(' ')
		}
		sep = true
		w.WriteString(name)
	}
	if q.has(fetchUID) {
		item("UID " + strconv.FormatUint(uint64(it.UID), 10))
	}
	if q.has(fetchFlags) || flagsChanged {
		item("FLAGS ")
		w.flags(sel.cv.flagsFor(it.UID, it.Flags))
		if s.mods.condstore && !q.has(fetchModSeq) { // RFC 7162 section 3.1.4
			item("MODSEQ (" + strconv.FormatInt(it.ModSeq, 10) + ")")
		}
		s.shownModSeq(it.UID, it.ModSeq)
	}
	done := map[fetchKind]bool{fetchUID: true, fetchFlags: true}
	for _, a := range q.ordered() {
		if done[a.kind] {
			continue
		}
		switch a.kind {
		case fetchInternalDate, fetchSaveDate, fetchSize, fetchEnvelope, fetchBody, fetchBodyStructure, fetchModSeq, fetchPreview:
			done[a.kind] = true
		}
		switch a.kind {
		case fetchInternalDate:
			item("INTERNALDATE ")
			w.internalDate(it.InternalDate)
		case fetchSaveDate:
			item("SAVEDATE ")
			if it.CreatedAt.IsZero() {
				w.WriteString("NIL")
			} else {
				w.internalDate(it.CreatedAt)
			}
		case fetchSize:
			item("RFC822.SIZE " + strconv.FormatInt(it.Size, 10))
		case fetchModSeq:
			item("MODSEQ (" + strconv.FormatInt(it.ModSeq, 10) + ")")
			s.shownModSeq(it.UID, it.ModSeq)
		case fetchEnvelope:
			item("ENVELOPE ")
			w.envelope(buildEnvelope(blob, root))
		case fetchBody, fetchBodyStructure:
			ext := a.kind == fetchBodyStructure
			item(map[bool]string{false: "BODY ", true: "BODYSTRUCTURE "}[ext])
			w.bodyStructure(blob, safePartStructure(blob, root), root, ext)
		case fetchSection:
			if err := s.writeSection(w, item, blob, root, a); err != nil {
				return err
			}
		case fetchBinary:
			if err := s.writeBinary(w, item, blob, root, a.binary); err != nil {
				return err
			}
		case fetchPreview:
			item("PREVIEW ")
			if text, ok := preview(blob, root); !ok {
				w.WriteString("NIL")
			} else if text == "" {
				w.WriteString(`""`)
			} else {
				w.str(text)
			}
		case fetchBinarySize:
			size, _ := binarySection(blob, root, a.binary.Part)
			item("BINARY.SIZE[" + partName(a.binary.Part) + "] " + strconv.FormatInt(size, 10))
		}
	}
	_, err := w.WriteString(")\r\n")
	return err
}

// writeSection writes a body section (BODY[...]<origin>, or the obsolete
// RFC822 names) with its content as a literal.
func (s *session) writeSection(w *respWriter, item func(string), blob *blobstore.Blob, root *message.Part, a fetchAtt) error {
	bs := a.section
	var spans []span
	if wholeMessage(bs) {
		spans = rangeSpans(0, blob.Size())
	} else {
		spans = sectionSpans(root, bs)
	}
	if p := nulBinaryPart(blob, root, bs); p != nil {
		// A literal holds no NUL (RFC 3501 section 4.3): the body of a
		// binary part holding NUL is sent base64-encoded (as Dovecot
		// does); BINARY[] decodes it, BODY[] stays byte-exact.
		size, open := base64Body(blob, p)
		off, n := partialRange(size, bs.Partial)
		item("")
		w.bodySectionName(bs)
		w.WriteByte(' ')
		r := open()
		if _, err := io.CopyN(io.Discard, r, off); err != nil && n > 0 {
			return s.imapError(err)
		}
		if err := w.literal(r, n, false); err != nil {
			return s.imapError(err)
		}
		return nil
	}
	spans = cutSpans(spans, bs.Partial)
	if a.name != "" {
		item(a.name + " ")
	} else {
		item("")
		w.bodySectionName(bs)
		w.WriteByte(' ')
	}
	if err := w.literal(spansReader(blob, spans), spansSize(spans), false); err != nil {
		return s.imapError(err)
	}
	return nil
}

// writeBinary writes a BINARY section (RFC 3516): the decoded content as a
// literal8, "BINARY[1]<origin>" for a partial one.
func (s *session) writeBinary(w *respWriter, item func(string), blob *blobstore.Blob, root *message.Part, bs *imap.FetchItemBinarySection) error {
	size, open := binarySection(blob, root, bs.Part)
	off, n := partialRange(size, bs.Partial)
	name := "BINARY[" + partName(bs.Part) + "]"
	if bs.Partial != nil {
		name += "<" + strconv.FormatInt(bs.Partial.Offset, 10) + ">"
	}
	item(name + " ")
	r := open()
	if _, err := io.CopyN(io.Discard, r, off); err != nil && n > 0 {
		return s.imapError(err)
	}
	if err := w.literal(r, n, true); err != nil {
		return s.imapError(err)
	}
	return nil
}

// partName is a section part number as written ("1.2"), "" for none.
func partName(part []int) string {
	out := make([]string, len(part))
	for i, n := range part {
		out[i] = strconv.Itoa(n)
	}
	return strings.Join(out, ".")
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
