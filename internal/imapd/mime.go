package imapd

import (
	"bytes"
	"mime"
	"strings"
)

// Limits that bound the work spent on pathological messages. Beyond them
// the remaining content is treated as an opaque leaf; nothing fails.
const (
	maxDepth    = 32   // nesting of multiparts and enclosed messages
	maxEntities = 4096 // entities parsed per message
)

// field is one header field as it appears in the raw message.
type field struct {
	name  string // as written
	raw   []byte // the whole field: its lines with their terminators
	value string // unfolded value (terminators removed), trimmed
}

// entity is a node of a message's MIME tree, described by byte offsets into
// the raw message, so that every section served is a slice of the stored
// bytes (RFC 9051 section 6.4.5).
type entity struct {
	start     int // first byte of the header
	hdrEnd    int // end of the last header line (raw[hdrEnd:bodyStart] is the blank line)
	bodyStart int // first byte of the body
	end       int // end of the body (exclusive)
	fields    []field
	typ, sub  string            // lower-case media type, never empty
	params    map[string]string // Content-Type parameters (lower-case names)
	children  []*entity         // parts of a multipart entity
	msg       *entity           // the enclosed message of a message/rfc822 entity
}

// multipart reports whether e has parts.
func (e *entity) multipart() bool { return e.typ == "multipart" }

// get returns the value of the first field named name, or "".
func (e *entity) get(name string) string {
	for i := range e.fields {
		if strings.EqualFold(e.fields[i].name, name) {
			return e.fields[i].value
		}
	}
	return ""
}

// parser holds the state of parsing one message.
type parser struct {
	raw      []byte
	entities int
}

// parseMessage parses raw into its MIME tree. It never fails and accepts
// any bytes: CRLF, LF and CR-only line endings, missing blank lines, broken
// or missing boundaries, garbage header lines.
func parseMessage(raw []byte) *entity {
	p := &parser{raw: raw}
	return p.entity(0, len(raw), 0, false)
}

// entity parses the entity in raw[start:end].
func (p *parser) entity(start, end, depth int, digest bool) *entity {
	p.entities++
	e := &entity{start: start, end: end}
	e.fields, e.hdrEnd, e.bodyStart = parseHeader(p.raw, start, end)
	e.typ, e.sub, e.params = "text", "plain", nil
	if digest {
		e.typ, e.sub = "message", "rfc822"
	}
	if ct := e.get("Content-Type"); ct != "" {
		if t, s, params, ok := parseMediaType(ct); ok {
			e.typ, e.sub, e.params = t, s, params
		}
	}
	if depth >= maxDepth || p.entities >= maxEntities {
		if e.multipart() {
			e.typ, e.sub = "text", "plain"
		}
		return e
	}
	switch {
	case e.multipart():
		b := e.params["boundary"]
		if b == "" {
			// A multipart without a boundary cannot be split: it is text.
			e.typ, e.sub = "text", "plain"
			return e
		}
		for _, r := range splitParts(p.raw, e.bodyStart, e.end, b) {
			if p.entities >= maxEntities {
				break
			}
			e.children = append(e.children, p.entity(r[0], r[1], depth+1, e.sub == "digest"))
		}
	case e.typ == "message" && (e.sub == "rfc822" || e.sub == "global"):
		e.msg = p.entity(e.bodyStart, e.end, depth+1, false)
	}
	return e
}

// nextLine returns the end of the line starting at i (before its
// terminator) and the start of the next line. A line ends at LF or CRLF; a
// lone CR is not a line end (RFC 5322, and what Dovecot, dsync and imapsync
// assume when they compare header hashes: a CR-only message is one long
// header line to all of them).
func nextLine(raw []byte, i, end int) (eol, next int) {
	for j := i; j < end; j++ {
		if raw[j] == '\n' {
			if j > i && raw[j-1] == '\r' {
				return j - 1, j + 1
			}
			return j, j + 1
		}
	}
	return end, end
}

// parseHeader reads the header block of raw[start:end]: the fields, where
// the last header line ends and where the body starts (after the first
// empty line). Without an empty line the whole range is header. Lines that
// are neither fields nor continuations (an mbox "From " line, garbage) stay
// in the header block but yield no field.
func parseHeader(raw []byte, start, end int) (fields []field, hdrEnd, bodyStart int) {
	var cur *field
	var curStart int
	var val []byte
	flush := func() {
		if cur != nil {
			cur.value = strings.TrimSpace(string(val))
			fields = append(fields, *cur)
			cur, val = nil, nil
		}
	}
	for i := start; i < end; {
		eol, next := nextLine(raw, i, end)
		line := raw[i:eol]
		if len(line) == 0 && eol < end {
			flush()
			return fields, i, next
		}
		switch {
		case (line[0] == ' ' || line[0] == '\t') && cur != nil:
			cur.raw = raw[curStart:next]
			if len(val) < 1<<16 {
				val = append(val, line...)
			}
		default:
			flush()
			if c := bytes.IndexByte(line, ':'); c > 0 && fieldName(line[:c]) {
				cur, curStart = &field{name: string(bytes.TrimRight(line[:c], " \t")), raw: raw[i:next]}, i
				val = append([]byte(nil), line[c+1:]...)
			}
		}
		i = next
	}
	flush()
	return fields, end, end
}

// fieldName reports whether b is a valid header field name (RFC 5322
// ftext), allowing trailing whitespace before the colon as old mailers
// wrote it.
func fieldName(b []byte) bool {
	b = bytes.TrimRight(b, " \t")
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// splitParts finds the parts of a multipart body raw[start:end] with the
// given boundary (RFC 2046 section 5.1.1) and returns their ranges. The
// line terminator before a delimiter belongs to the delimiter. The preamble
// and epilogue are not parts; without a close delimiter the last part runs
// to the end.
func splitParts(raw []byte, start, end int, boundary string) [][2]int {
	delim := []byte("--" + boundary)
	var out [][2]int
	partStart := -1
	for i := start; i < end; {
		k := bytes.Index(raw[i:end], delim)
		if k < 0 {
			break
		}
		pos := i + k
		i = pos + len(delim)
		if pos != start && raw[pos-1] != '\n' {
			continue // not at the start of a line
		}
		eol, next := nextLine(raw, i, end)
		rest := raw[i:eol]
		closing := bytes.HasPrefix(rest, []byte("--"))
		if closing {
			rest = rest[2:]
		}
		if len(bytes.TrimRight(rest, " \t")) != 0 {
			continue // a longer boundary that merely starts with ours
		}
		if partStart >= 0 {
			out = append(out, [2]int{partStart, max(partStart, lineStartBefore(raw, start, pos))})
		}
		if closing {
			return out
		}
		partStart, i = next, next
	}
	if partStart >= 0 {
		out = append(out, [2]int{partStart, end})
	}
	return out
}

// lineStartBefore returns the position of the line terminator that ends
// the line before pos (pos itself when pos is the start of the range).
func lineStartBefore(raw []byte, start, pos int) int {
	if pos == start {
		return pos
	}
	if raw[pos-1] == '\n' && pos-2 >= start && raw[pos-2] == '\r' {
		return pos - 2
	}
	return pos - 1
}

// parseMediaType parses a Content-Type value leniently: a syntactically
// broken parameter list still yields the type and whatever parameters can
// be read (the boundary above all).
func parseMediaType(v string) (typ, sub string, params map[string]string, ok bool) {
	mt, ps, err := mime.ParseMediaType(v)
	if err != nil {
		mt, _, _ = strings.Cut(v, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
		ps = lenientParams(v)
	}
	typ, sub, found := strings.Cut(mt, "/")
	typ, sub = strings.TrimSpace(typ), strings.TrimSpace(sub)
	if !found || !token(typ) || !token(sub) {
		return "", "", nil, false
	}
	return typ, sub, ps, true
}

// lenientParams reads name=value pairs after the first ';' without
// validating them: values are quoted strings or run to the next ';'.
func lenientParams(v string) map[string]string {
	_, rest, ok := strings.Cut(v, ";")
	if !ok {
		return nil
	}
	out := map[string]string{}
	for rest != "" {
		var item string
		rest = strings.TrimLeft(rest, " \t;")
		name, after, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		after = strings.TrimLeft(after, " \t")
		if strings.HasPrefix(after, `"`) {
			if j := strings.IndexByte(after[1:], '"'); j >= 0 {
				item, rest = after[1:j+1], after[j+2:]
			} else {
				item, rest = after[1:], ""
			}
		} else {
			item, rest, _ = strings.Cut(after, ";")
			item = strings.TrimSpace(item)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		if token(name) {
			if _, dup := out[name]; !dup {
				out[name] = item
			}
		}
	}
	return out
}

// token reports whether s is a non-empty MIME token (RFC 2045).
func token(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}
