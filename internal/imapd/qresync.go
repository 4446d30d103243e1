package imapd

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// QRESYNC (RFC 7162 section 3.2): SELECT's QRESYNC parameter and UID
// FETCH's VANISHED modifier report the messages removed since a MODSEQ
// from the store's tombstones. Tombstones older than the mailbox's purge
// horizon are gone (mailstore.PurgeTombstones); a MODSEQ before it gets the
// full answer instead: every UID of the client's known range that does not
// exist (RFC 7162 section 3.2.5.2 allows reporting UIDs the client never
// saw).

// tombstonePage is how many tombstones are read at a time.
const tombstonePage = 1000

// selectModResponses are the responses a CONDSTORE or QRESYNC SELECT adds
// before its tagged OK: HIGHESTMODSEQ and, for QRESYNC with the folder's
// UIDVALIDITY, VANISHED (EARLIER) and the FETCH of the messages changed
// since the client's MODSEQ.
func (s *session) selectModResponses(q *qresyncParams) []byte {
	var b strings.Builder
	b.WriteString("* OK [HIGHESTMODSEQ " + strconv.FormatInt(s.highestModSeq(), 10) + "] Highest\r\n")
	if q == nil || q.uidValidity != s.sel.folder.UIDValidity {
		return []byte(b.String())
	}
	if gone, err := s.vanishedSince(q.modseq, q.known); err == nil && gone != "" {
		b.WriteString("* VANISHED (EARLIER) " + gone + "\r\n")
	} else if err != nil {
		s.log.Debug("imap: QRESYNC vanished", "err", err)
	}
	cv := s.sel.cv
	v := cv.v
	v.mu.Lock()
	for _, m := range v.msgs {
		if m.modseq <= q.modseq {
			continue
		}
		if seq := cv.seqOf(m.uid); seq != 0 {
			s.shownModSeq(m.uid, m.modseq)
			b.WriteString("* " + strconv.FormatUint(uint64(seq), 10) + " FETCH (UID " + strconv.FormatUint(uint64(m.uid), 10) +
				" FLAGS " + flagList(cv.flagsFor(m.uid, m.flags)) + " MODSEQ (" + strconv.FormatInt(m.modseq, 10) + "))\r\n")
		}
	}
	v.mu.Unlock()
	return []byte(b.String())
}

// vanishedSince returns, as a UID set ("" for none), the UIDs of the
// selected folder in known (nil: all) removed after MODSEQ since and not
// shown to the client now. Before the tombstone purge horizon it returns
// every UID of known below UIDNEXT that does not exist.
func (s *session) vanishedSince(since int64, known imap.UIDSet) (string, error) {
	sel := s.sel
	cv := sel.cv
	exists := func(uid uint32) bool {
		if cv.seqOf(uid) != 0 {
			return true
		}
		cv.v.mu.Lock()
		defer cv.v.mu.Unlock()
		return cv.v.find(uid) >= 0
	}
	known = staticUIDSet(known)
	in := func(uid uint32) bool { return known == nil || known.Contains(imap.UID(uid)) }
	var gone []uint32
	after := mailstore.Cursor{ModSeq: since}
	for {
		ts, next, err := s.srv.store.Tombstones(s.ctx, sel.mb.ID, after, 0, tombstonePage)
		if errors.Is(err, mailstore.ErrResyncRequired) {
			return s.missingUIDs(known, exists), nil
		}
		if err != nil {
			return "", err
		}
		for _, t := range ts {
			if t.FolderID == sel.folder.ID && in(t.UID) && !exists(t.UID) {
				gone = append(gone, t.UID)
			}
		}
		if len(ts) < tombstonePage {
			break
		}
		after = next
	}
	slices.Sort(gone)
	return orderedSet(slices.Compact(gone)), nil
}

// missingUIDs is the full answer of a QRESYNC past the purge horizon:
// every UID of known (nil: 1:*) below UIDNEXT that does not exist.
func (s *session) missingUIDs(known imap.UIDSet, exists func(uint32) bool) string {
	cv := s.sel.cv
	cv.v.mu.Lock()
	top := max(cv.v.uidNext, cv.v.lastUID()+1) - 1
	cv.v.mu.Unlock()
	if known == nil {
		known = imap.UIDSet{{Start: 1, Stop: 0}}
	}
	var gone []uint32
	for _, r := range known {
		a, b := uint32(r.Start), uint32(r.Stop)
		staticRange(&a, &b, top)
		for u := max(a, 1); u <= min(b, top); u++ {
			if !exists(u) {
				gone = append(gone, u)
			}
		}
	}
	slices.Sort(gone)
	return orderedSet(slices.Compact(gone))
}

// staticUIDSet replaces "*" (0) in a UID set by the highest UID.
func staticUIDSet(set imap.UIDSet) imap.UIDSet {
	if set == nil {
		return nil
	}
	out := make(imap.UIDSet, len(set))
	for i, r := range set {
		a, b := uint32(r.Start), uint32(r.Stop)
		staticRange(&a, &b, 1<<32-1)
		out[i] = imap.UIDRange{Start: imap.UID(a), Stop: imap.UID(b)}
	}
	return out
}
