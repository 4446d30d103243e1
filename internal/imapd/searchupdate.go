package imapd

import (
	"slices"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// SEARCH RETURN (UPDATE) (RFC 5267 section 4, CONTEXT=SEARCH): a search
// context keeps the result of a SEARCH up to date while its folder stays
// selected. Whenever the session writes the folder's updates (sendUpdates,
// in Poll and IDLE, and before a SEARCH answered below go-imap), the
// messages the updates touch are matched again:
//
//	* ESEARCH (TAG "t") [UID] ADDTO (0 set)       messages that now match
//	* ESEARCH (TAG "t") [UID] REMOVEFROM (0 set)  messages that no longer do
//
// An expunged message of a result is removed with a REMOVEFROM written
// just before its EXPUNGE, with the sequence number the EXPUNGE carries,
// so the numbers of every ESEARCH update are those the client has at that
// point. Flag changes made by the session itself count too (a STORE that
// makes a message match is reported with ADDTO). The position is 0: a
// SEARCH result has no order of its own (RFC 5267 section 4.3).
//
// Invariant: a context's result holds the UIDs the client was told are in
// the result (by the SEARCH response and the updates since), each a
// message the client knows. Contexts end with CANCELUPDATE or when the
// folder is closed (they live in the session's selected state).

// maxSearchContexts bounds the SEARCH update contexts of one session; a
// SEARCH beyond it completes with [NOUPDATE] and no context.
const maxSearchContexts = 16

// searchContext is one SEARCH RETURN (UPDATE) kept up to date.
type searchContext struct {
	tag      string
	uid      bool                // UID SEARCH: updates carry UIDs
	criteria imap.SearchCriteria // as parsed: "*" and "$" resolve anew each time
	result   map[uint32]bool     // UIDs in the result, as the client was told
}

// searchExpunged removes an expunged message, at sequence number seq,
// from the results of the session's search contexts, telling the client
// (before the EXPUNGE itself).
func (s *session) searchExpunged(uid, seq uint32) error {
	if s.sel == nil {
		return nil
	}
	for _, sc := range s.sel.searches {
		if !sc.result[uid] {
			continue
		}
		delete(sc.result, uid)
		n := seq
		if sc.uid {
			n = uid
		}
		if err := s.writeRawLine(sc.line("REMOVEFROM", []uint32{n})); err != nil {
			return err
		}
	}
	return nil
}

// updateSearches matches the messages that ups (and newUIDs, the
// messages the client just learned of) touched again for every search
// context, and writes ADDTO and REMOVEFROM for the differences.
func (s *session) updateSearches(ups []update, newUIDs []uint32) error {
	sel := s.sel
	if sel == nil || len(sel.searches) == 0 {
		return nil
	}
	touched := slices.Clone(newUIDs)
	for _, u := range ups {
		if u.kind == updFetch || u.kind == updTouch {
			touched = append(touched, u.uid)
		}
	}
	slices.Sort(touched)
	touched = slices.Compact(touched)
	var set mailstore.UIDSet
	for _, uid := range touched {
		if sel.cv.seqOf(uid) == 0 {
			continue // expunged since
		}
		if n := len(set); n > 0 && set[n-1].Stop+1 == uid {
			set[n-1].Stop = uid
		} else {
			set = append(set, mailstore.UIDRange{Start: uid, Stop: uid})
		}
	}
	if len(set) == 0 {
		return nil
	}
	items, err := s.srv.store.Fetch(s.ctx, sel.mb.ID, sel.folder.ID, set)
	if err != nil {
		s.log.Warn("imap: SEARCH update: read messages", "user", s.user, "err", err)
		return nil // the result stays as it was; a later change retries
	}
	for _, sc := range sel.searches {
		if err := s.updateSearch(sc, items); err != nil {
			return err
		}
	}
	return nil
}

// updateSearch matches items again for one context and writes the
// differences.
func (s *session) updateSearch(sc *searchContext, items []mailstore.Item) error {
	cv := s.sel.cv
	c := s.staticCriteria(sc.criteria, uint32(len(cv.uids)), cv.lastUID())
	var added, removed []uint32
	for i := range items {
		it := &items[i]
		seq := cv.seqOf(it.UID)
		if seq == 0 {
			continue
		}
		m := &candidate{s: s, sel: s.sel, ref: msgRef{seq: seq, uid: it.UID}, it: it}
		ok := m.match(&c)
		m.release()
		n := seq
		if sc.uid {
			n = it.UID
		}
		switch {
		case ok && !sc.result[it.UID]:
			sc.result[it.UID] = true
			added = append(added, n)
		case !ok && sc.result[it.UID]:
			delete(sc.result, it.UID)
			removed = append(removed, n)
		}
	}
	if len(removed) > 0 {
		if err := s.writeRawLine(sc.line("REMOVEFROM", removed)); err != nil {
			return err
		}
	}
	if len(added) > 0 {
		return s.writeRawLine(sc.line("ADDTO", added))
	}
	return nil
}

// line formats an ESEARCH update of the context; nums ascending.
func (sc *searchContext) line(op string, nums []uint32) string {
	var b strings.Builder
	b.WriteString(`* ESEARCH (TAG "` + sc.tag + `")`)
	if sc.uid {
		b.WriteString(" UID")
	}
	b.WriteString(" " + op + " (0 " + orderedSet(nums) + ")")
	return b.String()
}

// cancelUpdateCommand answers CANCELUPDATE "tag" ... (RFC 5267 section
// 4.2): the named search contexts stop.
func (s *session) cancelUpdateCommand(tag, _, args string) []string {
	r := newArgReader(args)
	var tags []string
	for r.err == "" && !r.eof() {
		r.sp()
		tags = append(tags, r.astring())
	}
	if r.err == "" && len(tags) == 0 {
		r.fail("CANCELUPDATE takes the tags of the searches to cancel")
	}
	if r.err != "" {
		return []string{tag + " BAD [CLIENTBUG] CANCELUPDATE: " + responseText(r.err)}
	}
	if s.sel == nil {
		return []string{tag + " BAD no folder selected"}
	}
	for _, t := range tags {
		i := slices.IndexFunc(s.sel.searches, func(sc *searchContext) bool { return sc.tag == t })
		if i < 0 {
			return []string{tag + " BAD [CLIENTBUG] CANCELUPDATE: no search with tag " + responseText(strconv.Quote(t)) + " is being updated"}
		}
		s.sel.searches = slices.Delete(s.sel.searches, i, i+1)
	}
	return []string{tag + " OK CANCELUPDATE completed"}
}
