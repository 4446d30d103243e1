package imapd

import (
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// SEARCH and UID SEARCH (RFC 3501 and RFC 9051 section 6.4.4), answered
// below go-imap (intercept.go, extcmd.go):
//
//	[UID] SEARCH [RETURN (options)] [CHARSET name] search-keys
//
// The keys parse with the parser SORT and THREAD use (searchkey.go) and
// match with searchMatches (search.go). RETURN options: MIN, MAX, COUNT,
// ALL (ESEARCH, RFC 4731), SAVE (SEARCHRES, RFC 5182: the result is kept
// as "$"; alone, no ESEARCH response), UPDATE (CONTEXT=SEARCH, RFC 5267:
// searchupdate.go), CONTEXT (accepted, nothing to do) and PARTIAL m:n
// (RFC 5267 section 4.4 and RFC 9394: a window of the result by position,
// negative positions counting from the end). With the MODSEQ key (RFC
// 7162 section 3.1.5) the result carries the highest MODSEQ of the
// messages it reports. Without RETURN the answer is "* SEARCH", or
// ESEARCH once the client enabled IMAP4rev2.
//
// Before the answer the session writes its pending updates (no EXPUNGE:
// the client's sequence numbers must not change during SEARCH), as go-imap
// does after the commands it handles.

// searchCaps are the capabilities SEARCH adds to go-imap's ESEARCH and
// SEARCHRES.
const searchCaps = " CONTEXT=SEARCH" + withinCaps

// searchReturn are the RETURN options of a SEARCH.
type searchReturn struct {
	extended                                  bool // RETURN was given
	min, max, count, all, save, update, other bool // other: CONTEXT
	partial                                   *searchPartial
}

// searchPartial is a PARTIAL window: positions first..last of the result
// (1 is the first), or, both negative, counted from its end (-1 is the
// last); |first| <= |last|.
type searchPartial struct{ first, last int64 }

// String formats the window as it is echoed in the response.
func (p searchPartial) String() string {
	return strconv.FormatInt(p.first, 10) + ":" + strconv.FormatInt(p.last, 10)
}

// window returns the 0-based indexes [from, to) of a result of n
// messages that the window covers.
func (p searchPartial) window(n int) (from, to int) {
	a, b := p.first, p.last
	if a < 0 {
		a, b = int64(n)+1+b, int64(n)+1+a // -1 is the n-th
	}
	from, to = int(max(a, 1))-1, int(min(b, int64(n)))
	if from >= to {
		return 0, 0
	}
	return from, to
}

// word reads w (case-insensitive) when it comes next as a whole atom.
func (r *argReader) word(w string) bool {
	rest := r.s[r.pos:]
	if len(rest) < len(w) || !strings.EqualFold(rest[:len(w)], w) || len(rest) > len(w) && rest[len(w)] != ' ' {
		return false
	}
	r.pos += len(w)
	return true
}

// searchReturn reads the parenthesized RETURN options of a SEARCH.
func (r *argReader) searchReturn() searchReturn {
	ret := searchReturn{extended: true}
	r.list(func() {
		switch o := strings.ToUpper(r.atom()); o {
		case "MIN":
			ret.min = true
		case "MAX":
			ret.max = true
		case "COUNT":
			ret.count = true
		case "ALL":
			ret.all = true
		case "SAVE":
			ret.save = true
		case "UPDATE":
			ret.update = true
		case "CONTEXT":
			ret.other = true
		case "PARTIAL":
			r.sp()
			ret.partial = r.partialWindow()
		default:
			r.fail("unknown RETURN option " + strconv.Quote(o))
		}
	})
	if !ret.min && !ret.max && !ret.count && !ret.all && !ret.save && !ret.update && !ret.other && ret.partial == nil {
		ret.all = true // RETURN () means ALL (RFC 4731 section 3.1)
	}
	return ret
}

// partialWindow reads a PARTIAL window: "m:n" or "-m:-n", no zero and no
// "*" (RFC 9394 section 3).
func (r *argReader) partialWindow() *searchPartial {
	num := func() int64 {
		neg := r.maybe('-')
		n := r.number()
		if r.err == "" && (n <= 0 || n > 1<<32-1) {
			r.fail("a PARTIAL position is a number from 1 to 4294967295")
		}
		if neg {
			return -n
		}
		return n
	}
	a := num()
	r.expect(':')
	b := num()
	if r.err != "" {
		return nil
	}
	if a < 0 != (b < 0) {
		r.fail("PARTIAL takes two positive or two negative positions")
		return nil
	}
	if a < 0 && a < b || a > 0 && a > b {
		a, b = b, a
	}
	return &searchPartial{a, b}
}

// searchCommand answers SEARCH or UID SEARCH (args: the command's bytes
// after its name) with its response lines, the tagged completion last.
func (s *session) searchCommand(tag, name, args string) []string {
	uid := name == "UID SEARCH"
	r := newArgReader(args)
	r.maxLiteral = maxBufferedLiteral // as when go-imap parsed SEARCH
	r.sp()
	var ret searchReturn
	if r.word("RETURN") {
		r.sp()
		ret = r.searchReturn()
		r.sp()
	}
	charset := "US-ASCII"
	if r.word("CHARSET") {
		r.sp()
		charset = strings.ToUpper(r.astring())
		r.sp()
	}
	c := imap.SearchCriteria{}
	r.searchKeys(&c)
	if r.err == "" && !r.eof() {
		r.fail("unexpected " + strconv.Quote(r.s[r.pos:]))
	}
	if r.err != "" {
		return []string{tag + " BAD [CLIENTBUG] " + name + ": " + responseText(r.err)}
	}
	if charset != "US-ASCII" && charset != "UTF-8" {
		return []string{tag + " NO [BADCHARSET (US-ASCII UTF-8)] unsupported charset " + responseText(charset)}
	}
	if s.sel == nil {
		return []string{tag + " BAD no folder selected"}
	}
	if err := s.sendUpdates(false); err != nil {
		return []string{tag + " NO " + responseText(err.Error())}
	}
	matches, err := s.searchMatches(&c)
	if err != nil {
		if ret.save {
			s.searchRes = imap.UIDSet{} // RFC 5182 section 2.1: a failed SAVE empties "$"
		}
		return []string{s.statusLine(tag, err)}
	}
	res := searchResult{uid: uid, modseq: hasModSeqKey(&c)}
	for _, m := range matches {
		n := m.ref.seq
		if uid {
			n = m.ref.uid
		}
		res.nums = append(res.nums, n)
		res.uids = append(res.uids, m.ref.uid)
		res.modseqs = append(res.modseqs, m.it.ModSeq)
	}
	if ret.save {
		var saved imap.UIDSet
		for _, u := range res.uids {
			saved.AddNum(imap.UID(u))
		}
		s.searchRes = saved
	}
	var out []string
	switch {
	case !ret.extended && !s.conn.EnabledCaps().Has(imap.CapIMAP4rev2):
		out = append(out, res.searchLine())
	case !ret.extended:
		out = append(out, res.esearchLine(tag, searchReturn{all: true}))
	case ret.min || ret.max || ret.count || ret.all || ret.update || ret.partial != nil:
		out = append(out, res.esearchLine(tag, ret))
	}
	done := tag + " OK " + name + " completed"
	if ret.update {
		if len(s.sel.searches) >= maxSearchContexts {
			done = tag + ` OK [NOUPDATE "` + tag + `"] ` + name + " completed; too many searches are being updated (CANCELUPDATE some)"
		} else {
			s.addSearchContext(tag, uid, c, res.uids)
		}
	}
	return append(out, done)
}

// addSearchContext starts keeping a SEARCH result up to date, replacing
// a context with the same tag.
func (s *session) addSearchContext(tag string, uid bool, c imap.SearchCriteria, uids []uint32) {
	sc := &searchContext{tag: tag, uid: uid, criteria: c, result: make(map[uint32]bool, len(uids))}
	for _, u := range uids {
		sc.result[u] = true
	}
	for i, old := range s.sel.searches {
		if old.tag == tag {
			s.sel.searches[i] = sc
			return
		}
	}
	s.sel.searches = append(s.sel.searches, sc)
}

// searchResult is the outcome of a SEARCH, ascending.
type searchResult struct {
	uid     bool
	modseq  bool     // the MODSEQ key was used: report the highest MODSEQ
	nums    []uint32 // sequence numbers, or UIDs for UID SEARCH
	uids    []uint32
	modseqs []int64
}

// searchLine is the RFC 3501 SEARCH response.
func (res *searchResult) searchLine() string {
	var b strings.Builder
	b.WriteString("* SEARCH")
	for _, n := range res.nums {
		b.WriteString(" " + strconv.FormatUint(uint64(n), 10))
	}
	if res.modseq && len(res.nums) > 0 {
		b.WriteString(" (MODSEQ " + strconv.FormatInt(highest(res.modseqs), 10) + ")")
	}
	return b.String()
}

// esearchLine is the ESEARCH response with the items ret asks for.
func (res *searchResult) esearchLine(tag string, ret searchReturn) string {
	var b strings.Builder
	b.WriteString(`* ESEARCH (TAG "` + tag + `")`)
	if res.uid {
		b.WriteString(" UID")
	}
	n := len(res.nums)
	var reported []int64 // MODSEQs of the messages the response names
	if n > 0 && ret.min {
		b.WriteString(" MIN " + strconv.FormatUint(uint64(res.nums[0]), 10))
		reported = append(reported, res.modseqs[0])
	}
	if n > 0 && ret.max {
		b.WriteString(" MAX " + strconv.FormatUint(uint64(res.nums[n-1]), 10))
		reported = append(reported, res.modseqs[n-1])
	}
	if ret.count {
		b.WriteString(" COUNT " + strconv.Itoa(n))
	}
	if n > 0 && ret.all {
		b.WriteString(" ALL " + orderedSet(res.nums))
	}
	if ret.count || ret.all || ret.update {
		reported = res.modseqs
	}
	if p := ret.partial; p != nil {
		from, to := p.window(n)
		set := "NIL"
		if to > from {
			set = orderedSet(res.nums[from:to])
			reported = append(reported, res.modseqs[from:to]...)
		}
		b.WriteString(" PARTIAL (" + p.String() + " " + set + ")")
	}
	if res.modseq && len(reported) > 0 {
		b.WriteString(" MODSEQ " + strconv.FormatInt(highest(reported), 10))
	}
	return b.String()
}

// highest returns the largest of ms (0 for none).
func highest(ms []int64) int64 {
	h := int64(0)
	for _, m := range ms {
		h = max(h, m)
	}
	return h
}
