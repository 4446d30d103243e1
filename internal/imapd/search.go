package imapd

import (
	"io"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/message"
)

// Search implements imapserver.Session (SEARCH and UID SEARCH; ESEARCH
// results and SEARCHRES's SAVE). On tenantferry's connections SEARCH is
// answered below go-imap (searchcmd.go), with the same matching; go-imap
// calls this only on a connection without filterConn. Flags, dates, sizes and UIDs come from
// the item rows; SUBJECT and FROM use the store's decoded index columns;
// other header keys, BODY and TEXT parse the stored message (decoded
// encoded words, transfer encodings and charsets, and the raw bytes too).
// A message that cannot be read or parsed just does not match.
func (s *session) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	matches, err := s.searchMatches(criteria)
	if err != nil {
		return nil, err
	}
	data := &imap.SearchData{}
	var seqs imap.SeqSet
	var uids imap.UIDSet
	for _, m := range matches {
		uids.AddNum(imap.UID(m.ref.uid))
		n := m.ref.seq
		if kind == imapserver.NumKindUID {
			n = m.ref.uid
		} else {
			seqs.AddNum(m.ref.seq)
		}
		if data.Min == 0 || n < data.Min {
			data.Min = n
		}
		data.Max = max(data.Max, n)
		data.Count++
	}
	if kind == imapserver.NumKindUID {
		data.All = uids
	} else {
		data.All = seqs
	}
	if options != nil && options.ReturnSave {
		s.searchRes = uids
	}
	return data, nil
}

// searchMatches returns the messages of the selected folder, as the
// client sees it, that match criteria, in ascending order (SEARCH, SORT,
// THREAD). A match keeps at most its header in memory.
func (s *session) searchMatches(criteria *imap.SearchCriteria) ([]*candidate, error) {
	sel, err := s.selectedFolder()
	if err != nil {
		return nil, err
	}
	refs := s.resolve(imap.SeqSet{{Start: 1, Stop: 0}})
	items, err := s.srv.store.Fetch(s.ctx, sel.mb.ID, sel.folder.ID, mailstore.AllUIDs)
	if err != nil {
		return nil, s.imapError(err)
	}
	byUID := make(map[uint32]*mailstore.Item, len(items))
	for i := range items {
		byUID[items[i].UID] = &items[i]
	}
	var maxSeq, lastUID uint32
	for _, r := range refs {
		maxSeq, lastUID = max(maxSeq, r.seq), max(lastUID, r.uid)
	}
	c := s.staticCriteria(*criteria, maxSeq, lastUID)
	var out []*candidate
	for _, r := range refs {
		it := byUID[r.uid]
		if it == nil {
			continue
		}
		m := &candidate{s: s, sel: sel, ref: r, it: it}
		ok := m.match(&c)
		m.release()
		if ok {
			out = append(out, m)
		}
	}
	return out, nil
}

// staticCriteria resolves "*" and "$" in the number sets of c.
func (s *session) staticCriteria(c imap.SearchCriteria, maxSeq, lastUID uint32) imap.SearchCriteria {
	seqs := make([]imap.SeqSet, len(c.SeqNum))
	for i, set := range c.SeqNum {
		seqs[i] = make(imap.SeqSet, len(set))
		for j, r := range set {
			seqs[i][j] = r
			staticRange(&seqs[i][j].Start, &seqs[i][j].Stop, maxSeq)
		}
	}
	c.SeqNum = seqs
	uids := make([]imap.UIDSet, len(c.UID))
	for i, set := range c.UID {
		if imap.IsSearchRes(set) {
			uids[i] = s.searchRes
			continue
		}
		uids[i] = make(imap.UIDSet, len(set))
		for j, r := range set {
			a, b := uint32(r.Start), uint32(r.Stop)
			staticRange(&a, &b, lastUID)
			uids[i][j] = imap.UIDRange{Start: imap.UID(a), Stop: imap.UID(b)}
		}
	}
	c.UID = uids
	c.Not = append([]imap.SearchCriteria(nil), c.Not...)
	for i := range c.Not {
		c.Not[i] = s.staticCriteria(c.Not[i], maxSeq, lastUID)
	}
	c.Or = append([][2]imap.SearchCriteria(nil), c.Or...)
	for i := range c.Or {
		for j := range c.Or[i] {
			c.Or[i][j] = s.staticCriteria(c.Or[i][j], maxSeq, lastUID)
		}
	}
	return c
}

// candidate is a message being matched; its content is read on demand.
type candidate struct {
	s      *session
	sel    *selected
	ref    msgRef
	it     *mailstore.Item
	raw    []byte          // the header (level 1), or the whole message when small (level 2)
	root   *message.Part   // of raw, or of the stored message
	body   io.ReaderAt     // level 2: the message's bytes (raw, or the open blob)
	blob   *blobstore.Blob // level 2 of a large message: the open blob
	loaded int             // 0 nothing, 1 header, 2 whole message
}

// inMemory is the size up to which SEARCH reads a whole message into
// memory and parses it there; larger messages are searched part by part
// through their stored part tree (mailstore.Parts).
const inMemory = 1 << 20

// release closes the blob of a large message; the whole message is read
// again if needed.
func (m *candidate) release() {
	if m.blob != nil {
		m.blob.Close()
		m.blob = nil
	}
	if m.loaded == 2 {
		m.raw, m.root, m.body, m.loaded = nil, nil, nil, 0
	}
}

// match evaluates the criteria (all of them must hold), cheap ones first.
func (m *candidate) match(c *imap.SearchCriteria) bool {
	for _, set := range c.SeqNum {
		if !set.Contains(m.ref.seq) {
			return false
		}
	}
	for _, set := range c.UID {
		if !set.Contains(imap.UID(m.ref.uid)) {
			return false
		}
	}
	for _, f := range c.Flag {
		if !m.hasFlag(f) {
			return false
		}
	}
	for _, f := range c.NotFlag {
		if m.hasFlag(f) {
			return false
		}
	}
	if !dateIn(m.it.InternalDate.UTC(), c.Since, c.Before) {
		return false
	}
	if (!c.SentSince.IsZero() || !c.SentBefore.IsZero()) && !dateIn(m.sentDate(c.SentSince, c.SentBefore), c.SentSince, c.SentBefore) {
		return false
	}
	if c.ModSeq != nil && uint64(m.it.ModSeq) < c.ModSeq.ModSeq {
		return false
	}
	if c.Larger > 0 && m.it.Size <= c.Larger || c.Smaller > 0 && m.it.Size >= c.Smaller {
		return false
	}
	for _, h := range c.Header {
		if name, ok := strings.CutPrefix(h.Key, extKeyPrefix); ok {
			if !m.matchExtKey(name, h.Value) { // WITHIN, SAVEDATE (savedate.go)
				return false
			}
			continue
		}
		if !m.matchHeader(h.Key, h.Value) {
			return false
		}
	}
	for _, b := range c.Body {
		if !m.load(2) || !matchBody(m.body, m.root, b) {
			return false
		}
	}
	for _, t := range c.Text {
		if !m.load(2) || !matchText(m.body, m.root, t) {
			return false
		}
	}
	for i := range c.Not {
		if m.match(&c.Not[i]) {
			return false
		}
	}
	for i := range c.Or {
		if !m.match(&c.Or[i][0]) && !m.match(&c.Or[i][1]) {
			return false
		}
	}
	return true
}

// hasFlag reports whether the message has a flag; \Recent (SEARCH
// RECENT, NEW and OLD) is the session's.
func (m *candidate) hasFlag(f imap.Flag) bool {
	if strings.EqualFold(string(f), string(flagRecent)) {
		return m.sel.cv.recent.has(m.ref.uid)
	}
	return mailstore.HasFlag(m.it.Flags, string(f))
}

// matchHeader matches a header key, using the store's decoded Subject and
// From columns for those fields; an address field also matches on its
// parsed addresses (SEARCH FROM, TO, CC and BCC).
func (m *candidate) matchHeader(key, value string) bool {
	switch {
	case value != "" && strings.EqualFold(key, "Subject") && m.it.Subject != "":
		if containsFoldString(m.it.Subject, value) {
			return true
		}
	case value != "" && strings.EqualFold(key, "From") && m.it.From != "":
		if containsFoldString(m.it.From, value) {
			return true
		}
	}
	if !m.load(1) {
		return false
	}
	return matchHeader(m.root, key, value) || value != "" && matchAddressHeader(m.root, key, value)
}

// load reads the message (level 1: its header, 2: all of it, or, for a
// large message, its part tree with the blob left open); false if it
// cannot be read.
func (m *candidate) load(level int) bool {
	if m.loaded >= level {
		return m.root != nil
	}
	b, err := m.s.srv.store.OpenUID(m.s.ctx, m.sel.mb.ID, m.sel.folder.ID, m.it.UID)
	if err != nil {
		m.loaded = 2
		return false
	}
	switch {
	case level == 1:
		defer b.Close()
		m.raw = readHeader(b)
		m.root = message.Header(m.raw)
	case b.Size() <= inMemory:
		defer b.Close()
		m.raw = make([]byte, b.Size())
		if _, err := io.ReadFull(io.NewSectionReader(b, 0, b.Size()), m.raw); err != nil {
			m.loaded, m.root = 2, nil
			return false
		}
		m.root, m.body = message.ParseBytes(m.raw), memMessage(m.raw)
	default:
		root, err := m.s.srv.store.Parts(m.s.ctx, b)
		if err != nil {
			b.Close()
			m.loaded, m.root = 2, nil
			return false
		}
		m.raw, m.root, m.body, m.blob = readHeader(b), root, b, b
	}
	m.loaded = level
	return true
}

// sentDate returns the time of the message's Date header in the zone it
// was written in, which SENTBEFORE, SENTON and SENTSINCE compare by its
// date (RFC 3501 section 6.4.4: "disregarding time and timezone"); the
// internal date when there is no Date header. The store keeps only the
// instant (SentDate), so the header is read only when that instant's UTC
// date is within a day of a bound: elsewhere no zone can change the result.
func (m *candidate) sentDate(since, before time.Time) time.Time {
	sent := m.it.SentDate
	if sent.IsZero() {
		return m.it.InternalDate.UTC()
	}
	sent = sent.UTC()
	near := func(bound time.Time) bool {
		d := dayOf(sent).Sub(dayOf(bound))
		return !bound.IsZero() && d >= -24*time.Hour && d <= 24*time.Hour
	}
	if !near(since) && !near(before) || !m.load(1) {
		return sent
	}
	if d := mailstore.ParseHeader(m.raw).Date; !d.IsZero() {
		return d
	}
	return sent
}

// dateIn reports whether t's date, in t's own location (time of day
// ignored), is on or after since and before before (zero bounds are open).
func dateIn(t, since, before time.Time) bool {
	d := dayOf(t)
	if !since.IsZero() && d.Before(dayOf(since)) {
		return false
	}
	if !before.IsZero() && !d.Before(dayOf(before)) {
		return false
	}
	return true
}

// dayOf returns midnight UTC of t's calendar date in t's location.
func dayOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
