package imapd

import (
	"slices"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// FETCH and UID FETCH (RFC 3501 section 6.4.5, RFC 3516 BINARY, RFC 7162
// CONDSTORE and QRESYNC) are answered below go-imap (intercept.go,
// extcmd.go), so that this package writes every response itself
// (fetchwrite.go):
//
//	FETCH sequence-set (att ...) | att | ALL | FAST | FULL [(modifiers)]
//
// Attributes: UID, FLAGS, INTERNALDATE, RFC822.SIZE, ENVELOPE, BODY,
// BODYSTRUCTURE, BODY[section]<partial>, BODY.PEEK[...], BINARY[part]
// <partial>, BINARY.PEEK, BINARY.SIZE, RFC822, RFC822.HEADER,
// RFC822.TEXT, RFC822.PEEK, MODSEQ, PREVIEW [(LAZY)] (RFC 8970) and
// SAVEDATE (RFC 8514). The sequence set may be "$" (the
// saved search result) and holds "*".

// fetchKind is the kind of a FETCH attribute.
type fetchKind uint8

const (
	fetchUID fetchKind = iota + 1
	fetchFlags
	fetchInternalDate
	fetchSize
	fetchEnvelope
	fetchBody          // BODY: the non-extended structure
	fetchBodyStructure // BODYSTRUCTURE
	fetchSection       // BODY[...], BODY.PEEK[...], RFC822*
	fetchBinary        // BINARY[...], BINARY.PEEK[...]
	fetchBinarySize    // BINARY.SIZE[...]
	fetchModSeq        // MODSEQ (RFC 7162)
	fetchPreview       // PREVIEW, PREVIEW (LAZY) (RFC 8970, preview.go)
	fetchSaveDate      // SAVEDATE (RFC 8514, savedate.go)
)

// fetchAtt is one requested attribute.
type fetchAtt struct {
	kind    fetchKind
	name    string                       // the response name of RFC822, RFC822.HEADER and RFC822.TEXT
	section *imap.FetchItemBodySection   // fetchSection
	binary  *imap.FetchItemBinarySection // fetchBinary, fetchBinarySize (Partial unset)
}

// fetchRequest is a parsed FETCH command.
type fetchRequest struct {
	set          imap.NumSet
	uid          bool // UID FETCH
	atts         []fetchAtt
	changedSince uint64 // CHANGEDSINCE modifier (0: none)
	vanished     bool   // VANISHED modifier (UID FETCH with QRESYNC)
}

// has reports whether the request has an attribute of kind k.
func (q *fetchRequest) has(k fetchKind) bool {
	for _, a := range q.atts {
		if a.kind == k {
			return true
		}
	}
	return false
}

// sets reports whether the request sets \Seen (a non-peek body or binary
// section).
func (q *fetchRequest) setsSeen() bool {
	for _, a := range q.atts {
		if a.kind == fetchSection && !a.section.Peek || a.kind == fetchBinary && !a.binary.Peek {
			return true
		}
	}
	return false
}

// parseFetch parses the arguments of FETCH (the bytes after the command
// name). It returns a syntax error's text, or "".
func parseFetch(args string, uid bool) (*fetchRequest, string) {
	r := newArgReader(args)
	q := &fetchRequest{uid: uid}
	r.sp()
	if uid {
		q.set = r.uidSet()
	} else {
		q.set = r.seqSet()
	}
	r.sp()
	if r.peek() == '(' {
		r.list(func() { q.atts = append(q.atts, r.fetchAtt()...) })
	} else {
		switch name := strings.ToUpper(r.fetchName()); name {
		case "ALL":
			q.atts = kinds(fetchFlags, fetchInternalDate, fetchSize, fetchEnvelope)
		case "FAST":
			q.atts = kinds(fetchFlags, fetchInternalDate, fetchSize)
		case "FULL":
			q.atts = kinds(fetchFlags, fetchInternalDate, fetchSize, fetchEnvelope, fetchBody)
		default:
			q.atts = r.fetchAttNamed(name)
		}
	}
	if r.err == "" && r.maybe(' ') {
		r.fetchModifiers(q)
	}
	if r.err == "" && !r.eof() {
		r.fail("unexpected " + strconv.Quote(r.s[r.pos:]))
	}
	if r.err == "" && len(q.atts) == 0 {
		r.fail("FETCH takes at least one attribute")
	}
	if uid {
		q.atts = append(q.atts, fetchAtt{kind: fetchUID})
	}
	if q.changedSince > 0 {
		q.atts = append(q.atts, fetchAtt{kind: fetchModSeq})
	}
	return q, r.err
}

// kinds returns attributes of the given kinds.
func kinds(ks ...fetchKind) []fetchAtt {
	out := make([]fetchAtt, len(ks))
	for i, k := range ks {
		out[i] = fetchAtt{kind: k}
	}
	return out
}

// fetchName reads an attribute name: letters, digits and dots.
func (r *argReader) fetchName() string {
	start := r.pos
	for !r.eof() {
		c := r.s[r.pos]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.') {
			break
		}
		r.pos++
	}
	if r.pos == start {
		r.fail("expected a FETCH attribute")
	}
	return r.s[start:r.pos]
}

// fetchAtt reads one attribute of a parenthesized list.
func (r *argReader) fetchAtt() []fetchAtt {
	return r.fetchAttNamed(strings.ToUpper(r.fetchName()))
}

// simpleAtts are the attributes that are a name only.
var simpleAtts = map[string]fetchKind{"UID": fetchUID, "FLAGS": fetchFlags, "INTERNALDATE": fetchInternalDate,
	"RFC822.SIZE": fetchSize, "ENVELOPE": fetchEnvelope, "BODYSTRUCTURE": fetchBodyStructure, "MODSEQ": fetchModSeq,
	"SAVEDATE": fetchSaveDate}

// fetchAttNamed reads the rest of the attribute named name.
func (r *argReader) fetchAttNamed(name string) []fetchAtt {
	if k, ok := simpleAtts[name]; ok {
		return []fetchAtt{{kind: k}}
	}
	switch name {
	case "RFC822", "RFC822.PEEK":
		return []fetchAtt{{kind: fetchSection, name: "RFC822", section: &imap.FetchItemBodySection{Peek: name == "RFC822.PEEK"}}}
	case "RFC822.HEADER":
		return []fetchAtt{{kind: fetchSection, name: name, section: &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}}}
	case "RFC822.TEXT":
		return []fetchAtt{{kind: fetchSection, name: name, section: &imap.FetchItemBodySection{Specifier: imap.PartSpecifierText}}}
	case "BODY", "BODY.PEEK":
		if r.peek() != '[' {
			if name == "BODY.PEEK" {
				r.fail("BODY.PEEK takes a section")
			}
			return []fetchAtt{{kind: fetchBody}}
		}
		s := r.section()
		s.Peek = name == "BODY.PEEK"
		s.Partial = r.partial()
		return []fetchAtt{{kind: fetchSection, section: s}}
	case "PREVIEW":
		// "PREVIEW (LAZY)": the modifier list, told apart from FETCH
		// modifiers after a lone attribute by its LAZY.
		if strings.HasPrefix(strings.ToUpper(r.s[r.pos:]), " (LAZY") {
			r.sp()
			r.list(func() {
				if m := strings.ToUpper(r.atom()); m != "LAZY" {
					r.fail("unknown PREVIEW modifier " + strconv.Quote(m))
				}
			})
		}
		return []fetchAtt{{kind: fetchPreview}}
	case "BINARY", "BINARY.PEEK", "BINARY.SIZE":
		b := &imap.FetchItemBinarySection{Part: r.binaryPart(), Peek: name == "BINARY.PEEK"}
		if name == "BINARY.SIZE" {
			return []fetchAtt{{kind: fetchBinarySize, binary: b}}
		}
		b.Partial = r.partial()
		return []fetchAtt{{kind: fetchBinary, binary: b}}
	}
	if r.err == "" {
		r.fail("unknown FETCH attribute " + strconv.Quote(name))
	}
	return nil
}

// sectionPart reads a part number ("1.2.3"); a dot after it is left for
// the caller when it is not followed by a digit.
func (r *argReader) sectionPart() []int {
	var part []int
	for r.err == "" && r.peek() >= '0' && r.peek() <= '9' {
		n := r.number()
		if n <= 0 || n > 1<<31-1 {
			r.fail("bad section part number")
			return nil
		}
		part = append(part, int(n))
		if r.peek() != '.' || r.pos+1 >= len(r.s) || r.s[r.pos+1] < '0' || r.s[r.pos+1] > '9' {
			break
		}
		r.pos++
	}
	return part
}

// section reads "[section]" of BODY.
func (r *argReader) section() *imap.FetchItemBodySection {
	s := &imap.FetchItemBodySection{}
	r.expect('[')
	s.Part = r.sectionPart()
	if len(s.Part) > 0 && !r.maybe('.') {
		r.expect(']')
		return s
	}
	if r.maybe(']') {
		return s
	}
	spec := strings.ToUpper(r.fetchName())
	switch spec {
	case "HEADER", "TEXT":
		s.Specifier = imap.PartSpecifier(spec)
	case "MIME":
		if len(s.Part) == 0 {
			r.fail("MIME needs a part number")
		}
		s.Specifier = imap.PartSpecifierMIME
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		s.Specifier = imap.PartSpecifierHeader
		r.sp()
		var names []string
		r.list(func() { names = append(names, r.astring()) })
		if len(names) == 0 {
			r.fail(spec + " takes at least one field name")
		}
		if spec == "HEADER.FIELDS" {
			s.HeaderFields = names
		} else {
			s.HeaderFieldsNot = names
		}
	default:
		r.fail("bad section " + strconv.Quote(spec))
	}
	r.expect(']')
	return s
}

// binaryPart reads "[part]" of BINARY.
func (r *argReader) binaryPart() []int {
	r.expect('[')
	part := r.sectionPart()
	r.expect(']')
	return part
}

// partial reads an optional "<offset.count>".
func (r *argReader) partial() *imap.SectionPartial {
	if !r.maybe('<') {
		return nil
	}
	off := r.number()
	r.expect('.')
	n := r.number()
	r.expect('>')
	if n <= 0 || off < 0 || off > 1<<32-1 || n > 1<<32-1 {
		r.fail("bad partial range")
	}
	return &imap.SectionPartial{Offset: off, Size: n}
}

// fetchModifiers reads "(CHANGEDSINCE n [VANISHED])" (RFC 7162).
func (r *argReader) fetchModifiers(q *fetchRequest) {
	r.list(func() {
		switch m := strings.ToUpper(r.atom()); m {
		case "CHANGEDSINCE":
			r.sp()
			n := r.number()
			if n <= 0 {
				r.fail("CHANGEDSINCE takes a positive mod-sequence")
			}
			q.changedSince = uint64(n)
		case "VANISHED":
			q.vanished = true
		default:
			r.fail("unknown FETCH modifier " + strconv.Quote(m))
		}
	})
}

// fetchCaps are the capabilities of the FETCH served here.
const fetchCaps = " BINARY" + previewCaps + saveDateCaps

// fetchOrder is the position of each attribute kind in a response: the
// metadata before the literals, as go-imap wrote them (clients such as
// python's imaplib look for RFC822.SIZE before the first literal).
var fetchOrder = map[fetchKind]int{fetchUID: 0, fetchFlags: 1, fetchModSeq: 2, fetchInternalDate: 3, fetchSaveDate: 3, fetchSize: 4,
	fetchEnvelope: 5, fetchBody: 6, fetchBodyStructure: 7, fetchPreview: 8, fetchBinarySize: 9, fetchSection: 10, fetchBinary: 11}

// ordered returns the attributes in response order; sections keep the
// order they were asked in.
func (q *fetchRequest) ordered() []fetchAtt {
	out := slices.Clone(q.atts)
	slices.SortStableFunc(out, func(a, b fetchAtt) int { return fetchOrder[a.kind] - fetchOrder[b.kind] })
	return out
}
