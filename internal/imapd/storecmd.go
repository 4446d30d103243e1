package imapd

import (
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// STORE and UID STORE (RFC 3501 section 6.4.6, RFC 7162 section 3.1.3)
// are answered below go-imap (extcmd.go):
//
//	STORE sequence-set [(UNCHANGEDSINCE n)] [+|-]FLAGS[.SILENT] flags
//
// The new flags are reported in FETCH responses unless silent (with
// MODSEQ once CONDSTORE is enabled, and for a conditional STORE even when
// silent), after FLAGS when they carry a new keyword; the other sessions
// of the folder get them as updates. With UNCHANGEDSINCE, the messages
// changed after that MODSEQ are left alone, in the store's transaction,
// and named in the tagged OK's [MODIFIED set].

// storeRequest is a parsed STORE command.
type storeRequest struct {
	set            imap.NumSet
	unchangedSince int64 // -1: none
	op             mailstore.FlagOp
	silent         bool
	flags          []string
}

// parseStore parses the arguments of STORE (the bytes after the command
// name); it returns a syntax error's text, or "".
func parseStore(args string, uid bool) (*storeRequest, string) {
	r := newArgReader(args)
	q := &storeRequest{unchangedSince: -1}
	r.sp()
	if uid {
		q.set = r.uidSet()
	} else {
		q.set = r.seqSet()
	}
	r.sp()
	if r.peek() == '(' {
		r.list(func() {
			if m := strings.ToUpper(r.atom()); m != "UNCHANGEDSINCE" {
				r.fail("unknown STORE modifier " + strconv.Quote(m))
				return
			}
			r.sp()
			q.unchangedSince = r.number()
		})
		r.sp()
	}
	switch {
	case r.maybe('+'):
		q.op = mailstore.FlagsAdd
	case r.maybe('-'):
		q.op = mailstore.FlagsRemove
	default:
		q.op = mailstore.FlagsReplace
	}
	item := strings.ToUpper(r.fetchName())
	switch item {
	case "FLAGS":
	case "FLAGS.SILENT":
		q.silent = true
	default:
		r.fail("STORE takes FLAGS, +FLAGS or -FLAGS")
	}
	r.sp()
	if r.maybe('(') {
		for r.err == "" && !r.maybe(')') {
			q.flags = append(q.flags, r.flag())
			r.maybe(' ')
		}
	} else {
		for r.err == "" && !r.eof() {
			q.flags = append(q.flags, r.flag())
			r.maybe(' ')
		}
	}
	if r.err == "" && !r.eof() {
		r.fail("unexpected " + strconv.Quote(r.s[r.pos:]))
	}
	return q, r.err
}

// flag reads a flag: "\" and an atom, or an atom.
func (r *argReader) flag() string {
	start := r.pos
	r.maybe('\\')
	for !r.eof() && isAtomChar(r.s[r.pos]) {
		r.pos++
	}
	if r.pos == start || r.s[r.pos-1] == '\\' {
		r.fail("expected a flag")
		return ""
	}
	return r.s[start:r.pos]
}

// storeCommand answers STORE and UID STORE (args: the bytes after the
// command name); the responses stream to the connection, the tagged
// completion is returned.
func (s *session) storeCommand(tag, name, args string) []string {
	uid := name == "UID STORE"
	if s.sel == nil {
		return []string{tag + " BAD No mailbox selected"}
	}
	q, bad := parseStore(args, uid)
	if bad != "" {
		return []string{tag + " BAD [CLIENTBUG] " + name + ": " + responseText(bad)}
	}
	if s.sel.readOnly {
		return []string{s.statusLine(tag, readOnlyError)}
	}
	if q.unchangedSince >= 0 {
		s.enableCondStore()
	}
	w := s.newRespWriter()
	modified, err := s.store(w, q, uid)
	if err == nil {
		err = s.writePendingUpdates(w, uid)
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return []string{s.statusLine(tag, err)}
	}
	if len(modified) > 0 {
		return []string{tag + " OK [MODIFIED " + modified + "] Conditional " + name + " failed"}
	}
	return []string{tag + " OK " + name + " completed"}
}

// store changes the flags and writes the FETCH responses; it returns the
// set of messages UNCHANGEDSINCE left alone (UIDs for UID STORE, sequence
// numbers otherwise).
func (s *session) store(w *respWriter, q *storeRequest, uid bool) (string, error) {
	sel := s.sel
	refs := s.resolve(q.set)
	if len(refs) == 0 {
		return "", nil
	}
	res, modified, err := s.storeFlagsIf(sel, refs, q.op, q.flags, q.unchangedSince)
	if err != nil {
		return "", s.imapError(err)
	}
	mods := make([]uint32, 0, len(modified))
	for _, u := range modified {
		if uid {
			mods = append(mods, u)
		} else if seq := sel.cv.seqOf(u); seq != 0 {
			mods = append(mods, seq)
		}
	}
	conditional := q.unchangedSince >= 0
	if q.silent && !(conditional && s.mods.condstore) {
		return orderedSet(mods), nil
	}
	lists := make([][]string, len(res))
	for i, r := range res {
		lists[i] = r.Flags
	}
	if err := s.announceKeywords(lists...); err != nil {
		return "", err
	}
	for _, r := range res {
		seq := sel.cv.seqOf(r.UID)
		if seq == 0 || q.silent && !r.Changed {
			continue
		}
		var items []string
		if uid {
			items = append(items, "UID "+strconv.FormatUint(uint64(r.UID), 10))
		}
		if !q.silent {
			items = append(items, "FLAGS "+flagList(sel.cv.flagsFor(r.UID, r.Flags)))
		}
		if s.mods.condstore {
			items = append(items, "MODSEQ ("+strconv.FormatInt(r.ModSeq, 10)+")")
			s.shownModSeq(r.UID, r.ModSeq)
		}
		w.WriteString("* " + strconv.FormatUint(uint64(seq), 10) + " FETCH (" + strings.Join(items, " ") + ")\r\n")
	}
	return orderedSet(mods), nil
}
