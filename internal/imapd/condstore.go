package imapd

import (
	"bytes"
	"slices"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// CONDSTORE and QRESYNC (RFC 7162) over the store's MODSEQ: every item
// carries the MODSEQ of its last change and every removal leaves a
// tombstone with its MODSEQ, so a client resynchronizes in O(changes).
//
// go-imap parses ENABLE, SELECT, EXAMINE and STATUS; filterConn's hooks
// (extCommands.line and .resp) strip this extension's parameters from
// their command lines before go-imap reads them and add its responses to
// what go-imap writes:
//
//   - ENABLE CONDSTORE / QRESYNC: the capabilities are taken out of the
//     line and added to "* ENABLED".
//   - SELECT/EXAMINE mailbox (CONDSTORE) or (QRESYNC (...)): the
//     parameter is taken out; before the tagged OK come
//     "* OK [HIGHESTMODSEQ n]" and, for QRESYNC, VANISHED (EARLIER) and
//     the FETCH of the messages changed since the client's MODSEQ.
//   - STATUS mailbox (... HIGHESTMODSEQ): the item is taken out and added
//     to "* STATUS".
//
// FETCH (MODSEQ, CHANGEDSINCE, VANISHED) and STORE (UNCHANGEDSINCE) are
// served below go-imap (fetchcmd.go, storecmd.go). Once CONDSTORE is
// enabled, every FETCH response with FLAGS carries MODSEQ, unsolicited
// ones too; once QRESYNC is enabled, expunges are reported as VANISHED.
//
// For SEARCH (branch search: the MODSEQ key and ESEARCH's MODSEQ result),
// itemModSeqs gives the MODSEQ of messages of the selected folder.

// modCaps are the capabilities of this file.
const modCaps = " CONDSTORE QRESYNC"

// modState is a session's CONDSTORE and QRESYNC state.
type modState struct {
	condstore bool // CONDSTORE enabled (RFC 7162 section 3.1)
	qresync   bool // QRESYNC enabled (implies condstore)

	enabling []string      // capabilities of an ENABLE in progress, for "* ENABLED"
	sel      *selectParams // a SELECT or EXAMINE in progress
	statusOn bool          // a STATUS in progress asked for HIGHESTMODSEQ
	status   int64         // its value (0: none)
	tag      string        // the tag of the ENABLE, SELECT, EXAMINE, STATUS or LIST in progress

	litTag, litCmd string // a SELECT, EXAMINE or STATUS whose mailbox name is a literal (condstoreline.go)

	listStatus  bool    // a LIST in progress asked for STATUS HIGHESTMODSEQ
	listModSeqs []int64 // the values for its "* STATUS" responses still to come, in order
}

// selectParams are the RFC 7162 parameters of a SELECT or EXAMINE.
type selectParams struct {
	condstore bool
	qresync   *qresyncParams
}

// qresyncParams is SELECT's QRESYNC parameter.
type qresyncParams struct {
	uidValidity uint32
	modseq      int64
	known       imap.UIDSet // nil: every UID
}

// enableCondStore turns CONDSTORE on (a CONDSTORE-enabling command). The
// first time, in the selected state, it tells the client the folder's
// HIGHESTMODSEQ (RFC 7162 section 3.1).
func (s *session) enableCondStore() {
	if s.mods.condstore {
		return
	}
	s.mods.condstore = true
	if s.sel != nil {
		if err := s.writeRawLine("* OK [HIGHESTMODSEQ " + strconv.FormatInt(s.highestModSeq(), 10) + "] Highest"); err != nil {
			s.log.Debug("imap: write HIGHESTMODSEQ", "err", err)
		}
	}
}

// modCommands adds CONDSTORE and QRESYNC to a session's extension
// commands.
func (s *session) modCommands(e *extCommands) {
	e.caps += modCaps
	e.line = s.modLine
	e.cont = s.modCont
	e.resp = s.modResp
	e.handlers["STORE"] = s.storeCommand
	e.handlers["UID STORE"] = s.storeCommand
}

// selectParams reads "(CONDSTORE)" or "(QRESYNC (uidvalidity modseq
// [known-uids [seq-match]]))".
func (r *argReader) selectParams() *selectParams {
	p := &selectParams{}
	r.list(func() {
		switch strings.ToUpper(r.atom()) {
		case "CONDSTORE":
			p.condstore = true
		case "QRESYNC":
			r.sp()
			q := &qresyncParams{}
			r.expect('(')
			uv := r.number()
			r.sp()
			q.modseq = r.number()
			if uv <= 0 || uv > 1<<32-1 || q.modseq <= 0 {
				r.fail("bad QRESYNC parameter")
			}
			q.uidValidity = uint32(uv)
			if r.maybe(' ') && r.peek() != '(' {
				q.known = r.uidSet()
				r.maybe(' ')
			}
			if r.peek() == '(' { // seq-match data: an optimization this server does not need
				r.expect('(')
				r.seqSet()
				r.sp()
				r.seqSet()
				r.expect(')')
			}
			r.expect(')')
			p.qresync = q
		default:
			r.fail("unknown SELECT parameter")
		}
	})
	return p
}

// modResp adds this extension's responses to what go-imap writes for the
// command in progress (see the file comment); nil leaves p unchanged.
func (s *session) modResp(p []byte) []byte {
	m := &s.mods
	if m.tag == "" {
		return nil
	}
	switch {
	case m.enabling != nil && bytes.HasPrefix(p, []byte("* ENABLED")):
		for _, c := range m.enabling {
			m.condstore = true
			m.qresync = m.qresync || c == "QRESYNC"
		}
		return append(bytes.TrimRight(p, "\r\n"), []byte(" "+strings.Join(m.enabling, " ")+"\r\n")...)
	case m.statusOn && m.status > 0 && bytes.HasPrefix(p, []byte("* STATUS ")) && bytes.HasSuffix(p, []byte(")\r\n")):
		return appendStatusItem(p, "HIGHESTMODSEQ "+strconv.FormatInt(m.status, 10))
	case m.listStatus && len(m.listModSeqs) > 0 && bytes.HasPrefix(p, []byte("* STATUS ")) && bytes.HasSuffix(p, []byte(")\r\n")):
		h := m.listModSeqs[0]
		m.listModSeqs = m.listModSeqs[1:]
		return appendStatusItem(p, "HIGHESTMODSEQ "+strconv.FormatInt(h, 10))
	case bytes.HasPrefix(p, []byte(m.tag+" ")):
		defer func() { *m = modState{condstore: m.condstore, qresync: m.qresync} }()
		if m.sel != nil && bytes.HasPrefix(p, []byte(m.tag+" OK")) && s.sel != nil {
			if m.sel.condstore || m.sel.qresync != nil {
				m.condstore = true
			}
			if m.condstore {
				return append(s.selectModResponses(m.sel.qresync), p...)
			}
		}
	}
	return nil
}

// appendStatusItem adds item to the list of a "* STATUS" response line.
func appendStatusItem(p []byte, item string) []byte {
	q := bytes.TrimSuffix(p, []byte(")\r\n"))
	sep := " "
	if bytes.HasSuffix(q, []byte("(")) {
		sep = ""
	}
	return append(q, []byte(sep+item+")\r\n")...)
}

// queueListModSeq records the HIGHESTMODSEQ of a folder of mailbox mb
// that a LIST with STATUS HIGHESTMODSEQ is about to list with its STATUS
// (list.go calls it in the order it writes them); known caches the
// values of the mailboxes of this LIST.
func (s *session) queueListModSeq(mb *mailstore.Mailbox, known map[int64]int64) {
	if !s.mods.listStatus || mb == nil {
		return
	}
	h, ok := known[mb.ID]
	if !ok {
		var err error
		if h, err = s.srv.store.HighestModSeq(s.ctx, mb.ID); err != nil {
			s.log.Debug("imap: LIST HIGHESTMODSEQ", "err", err)
		}
		h = max(h, 1)
		known[mb.ID] = h
	}
	s.mods.listModSeqs = append(s.mods.listModSeqs, h)
}

// shownModSeq records that the client was shown a message's MODSEQ (with
// its flags at that MODSEQ), when CONDSTORE is enabled.
func (s *session) shownModSeq(uid uint32, modseq int64) {
	if !s.mods.condstore || s.sel == nil {
		return
	}
	cv := s.sel.cv
	if cv.sent == nil {
		cv.sent = map[uint32]int64{}
	}
	cv.sent[uid] = max(cv.sent[uid], modseq)
}

// staleUpdate reports whether a flag update of the change log is older
// than what the client was shown already (a FETCH or STORE read the store
// ahead of the log): sending it would take the message's flags and MODSEQ
// back.
func (s *session) staleUpdate(uid uint32, modseq int64) bool {
	return s.mods.condstore && modseq > 0 && modseq <= s.sel.cv.sent[uid]
}

// noteStatusModSeq records the HIGHESTMODSEQ of a STATUS that asked for
// it (folders.go's Status calls it): the mailbox's MODSEQ, which is at
// least that of every change of its folders.
func (s *session) noteStatusModSeq(mb *mailstore.Mailbox) {
	if !s.mods.statusOn {
		return
	}
	if h, err := s.srv.store.HighestModSeq(s.ctx, mb.ID); err == nil {
		s.mods.status = max(h, 1)
	}
}

// highestModSeq is the HIGHESTMODSEQ of the selected folder as the client
// saw it at SELECT.
func (s *session) highestModSeq() int64 { return max(s.sel.cv.modseq, 1) }

// itemModSeqs returns the MODSEQ of the messages of the selected folder
// whose UIDs are in uids, by UID (messages expunged meanwhile are left
// out). It enables CONDSTORE for the session, as a SEARCH with the MODSEQ
// key must (RFC 7162 section 3.1.2). For SEARCH MODSEQ and ESEARCH's
// MODSEQ result (branch search).
func (s *session) itemModSeqs(uids []uint32) (map[uint32]int64, error) {
	if s.sel == nil || len(uids) == 0 {
		return map[uint32]int64{}, nil
	}
	s.enableCondStore()
	sorted := slices.Clone(uids)
	slices.Sort(sorted)
	refs := make([]msgRef, 0, len(sorted))
	for _, u := range slices.Compact(sorted) {
		refs = append(refs, msgRef{uid: u})
	}
	items, err := s.srv.store.Fetch(s.ctx, s.sel.mb.ID, s.sel.folder.ID, uidSetOf(refs))
	if err != nil {
		return nil, s.imapError(err)
	}
	out := make(map[uint32]int64, len(items))
	for _, it := range items {
		out[it.UID] = it.ModSeq
	}
	return out, nil
}
