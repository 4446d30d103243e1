package imapd

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// SORT and UID SORT (RFC 5256) with SORT=DISPLAY (RFC 5957) and ESORT
// (RFC 5267 section 3), answered below go-imap (intercept.go):
//
//	SORT [RETURN (MIN MAX COUNT ALL)] (sort-keys) charset search-keys
//
// Keys: ARRIVAL (internal date), DATE (the Date header's instant, else
// the internal date), SIZE, SUBJECT (base subject, basesubject.go), FROM,
// TO, CC (the local part of the first address), DISPLAYFROM, DISPLAYTO
// (the first address's display name, else its addr-spec), each optionally
// preceded by REVERSE. Strings compare in i;ascii-casemap. Messages equal
// on every key keep their mailbox order. The search keys select the
// messages exactly as SEARCH does (searchMatches).

// sortCaps are the SORT, THREAD and ESORT capabilities.
const sortCaps = " SORT SORT=DISPLAY ESORT THREAD=REFERENCES THREAD=ORDEREDSUBJECT"

// sortKey is one sort criterion.
type sortKey struct {
	name    string // upper-case key name
	reverse bool
}

// sortKeyNames are the keys SORT knows.
var sortKeyNames = map[string]bool{"ARRIVAL": true, "CC": true, "DATE": true, "FROM": true, "SIZE": true,
	"SUBJECT": true, "TO": true, "DISPLAYFROM": true, "DISPLAYTO": true}

// esortReturn are the RETURN options of an extended SORT.
type esortReturn struct {
	set                       bool // RETURN was given
	min, max, count, all, any bool
}

// sortCommand answers SORT or UID SORT (args: the command's bytes after
// its name) with its response lines, the tagged completion last.
func (s *session) sortCommand(tag string, uid bool, args string) []string {
	r := newArgReader(args)
	r.sp()
	var ret esortReturn
	if len(r.s)-r.pos >= 6 && strings.EqualFold(r.s[r.pos:r.pos+6], "RETURN") {
		r.pos += 6
		r.sp()
		ret = r.esortReturn()
		r.sp()
	}
	var keys []sortKey
	reverse := false
	r.list(func() {
		k := strings.ToUpper(r.atom())
		switch {
		case k == "REVERSE":
			reverse = true
			r.sp()
			k = strings.ToUpper(r.atom())
			fallthrough
		case sortKeyNames[k]:
			if !sortKeyNames[k] {
				r.fail("unknown sort key " + strconv.Quote(k))
			}
			keys = append(keys, sortKey{k, reverse})
			reverse = false
		default:
			r.fail("unknown sort key " + strconv.Quote(k))
		}
	})
	if r.err == "" && len(keys) == 0 {
		r.fail("SORT takes at least one sort key")
	}
	criteria, bad := r.charsetAndCriteria(tag, "SORT")
	if bad != nil {
		return bad
	}
	matches, err := s.searchMatches(criteria)
	if err != nil {
		return []string{s.statusLine(tag, err)}
	}
	s.sortMatches(matches, keys)
	nums := make([]uint32, len(matches))
	for i, m := range matches {
		nums[i] = m.ref.seq
		if uid {
			nums[i] = m.ref.uid
		}
	}
	if ret.set {
		return []string{esortResponse(tag, uid, ret, nums), tag + " OK SORT completed"}
	}
	line := "* SORT"
	for _, n := range nums {
		line += " " + strconv.FormatUint(uint64(n), 10)
	}
	return []string{line, tag + " OK SORT completed"}
}

// charsetAndCriteria reads the charset and the search keys that end SORT
// and THREAD. On an error it returns the response lines instead.
func (r *argReader) charsetAndCriteria(tag, cmd string) (*imap.SearchCriteria, []string) {
	r.sp()
	charset := strings.ToUpper(r.astring())
	r.sp()
	c := &imap.SearchCriteria{}
	r.searchKeys(c)
	if r.err == "" && !r.eof() {
		r.fail("unexpected " + strconv.Quote(r.s[r.pos:]))
	}
	if r.err != "" {
		return nil, []string{tag + " BAD [CLIENTBUG] " + cmd + ": " + responseText(r.err)}
	}
	if charset != "US-ASCII" && charset != "UTF-8" {
		return nil, []string{tag + " NO [BADCHARSET (US-ASCII UTF-8)] unsupported charset " + responseText(charset)}
	}
	return c, nil
}

// esortReturn reads the RETURN options of an extended SORT.
func (r *argReader) esortReturn() esortReturn {
	ret := esortReturn{set: true}
	r.list(func() {
		ret.any = true
		switch o := strings.ToUpper(r.atom()); o {
		case "MIN":
			ret.min = true
		case "MAX":
			ret.max = true
		case "COUNT":
			ret.count = true
		case "ALL":
			ret.all = true
		default:
			r.fail("unknown RETURN option " + strconv.Quote(o))
		}
	})
	if !ret.any {
		ret.all = true // RETURN () means ALL (RFC 4731 section 3.1)
	}
	return ret
}

// esortResponse is the ESEARCH response of an extended SORT: MIN and MAX
// are the first and last messages in sort order, ALL lists them in sort
// order (ascending runs as ranges).
func esortResponse(tag string, uid bool, ret esortReturn, nums []uint32) string {
	var b strings.Builder
	b.WriteString(`* ESEARCH (TAG "` + tag + `")`)
	if uid {
		b.WriteString(" UID")
	}
	if len(nums) > 0 && ret.min {
		b.WriteString(" MIN " + strconv.FormatUint(uint64(nums[0]), 10))
	}
	if len(nums) > 0 && ret.max {
		b.WriteString(" MAX " + strconv.FormatUint(uint64(nums[len(nums)-1]), 10))
	}
	if ret.count {
		b.WriteString(" COUNT " + strconv.Itoa(len(nums)))
	}
	if len(nums) > 0 && ret.all {
		b.WriteString(" ALL " + orderedSet(nums))
	}
	return b.String()
}

// orderedSet writes numbers in their order, ascending runs as ranges.
func orderedSet(nums []uint32) string {
	var b strings.Builder
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(nums[i]), 10))
		if j > i {
			b.WriteString(":" + strconv.FormatUint(uint64(nums[j]), 10))
		}
		i = j + 1
	}
	return b.String()
}

// sortMatches sorts messages by keys; equal ones keep their order.
func (s *session) sortMatches(ms []*candidate, keys []sortKey) {
	values := make(map[*candidate][]sortValue, len(ms))
	for _, m := range ms {
		vs := make([]sortValue, len(keys))
		for i, k := range keys {
			vs[i] = m.sortValue(k.name)
		}
		values[m] = vs
	}
	slices.SortStableFunc(ms, func(a, b *candidate) int {
		va, vb := values[a], values[b]
		for i, k := range keys {
			c := cmp.Compare(va[i].n, vb[i].n)
			if c == 0 {
				c = strings.Compare(va[i].s, vb[i].s)
			}
			if k.reverse {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return cmp.Compare(a.ref.seq, b.ref.seq)
	})
}

// sortValue is a message's value for one key: a number or a string.
type sortValue struct {
	n int64
	s string
}

// sortValue computes the message's value for a sort key.
func (m *candidate) sortValue(key string) sortValue {
	switch key {
	case "ARRIVAL":
		return sortValue{n: m.it.InternalDate.UnixNano()}
	case "DATE":
		return sortValue{n: m.sentInstant().UnixNano()}
	case "SIZE":
		return sortValue{n: m.it.Size}
	case "SUBJECT":
		base, _ := m.baseSubject()
		return sortValue{s: base}
	case "FROM", "TO", "CC":
		// The first entry as ENVELOPE lists it: a group's start marker
		// names the group (RFC 5256's addr-mailbox of the first address).
		if as := parseAddressList(m.header(key)); len(as) > 0 {
			return sortValue{s: asciiUpper(as[0].Mailbox)}
		}
		return sortValue{}
	case "DISPLAYFROM", "DISPLAYTO":
		// RFC 5957: the first address's display name, else its
		// addr-spec; a group's name.
		as := parseAddressList(m.header(strings.TrimPrefix(key, "DISPLAY")))
		switch {
		case len(as) == 0:
			return sortValue{}
		case as[0].Name != "":
			return sortValue{s: strings.ToUpper(as[0].Name)}
		case as[0].Host == "":
			return sortValue{s: strings.ToUpper(as[0].Mailbox)}
		}
		return sortValue{s: asciiUpper(as[0].Mailbox + "@" + as[0].Host)}
	}
	return sortValue{}
}

// sentInstant is the message's sent date for SORT DATE and THREAD (RFC
// 5256 section 2.2): the Date header, else the internal date.
func (m *candidate) sentInstant() time.Time {
	if !m.it.SentDate.IsZero() {
		return m.it.SentDate
	}
	return m.it.InternalDate
}

// header returns the value of the message's first field named name, ""
// when it has none or cannot be read.
func (m *candidate) header(name string) string {
	if !m.load(1) {
		return ""
	}
	return m.root.Get(name)
}

// baseSubject is the base subject of the message's Subject header.
func (m *candidate) baseSubject() (string, bool) {
	return baseSubject(m.header("Subject"))
}
