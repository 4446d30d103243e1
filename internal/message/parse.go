package message

import (
	"bytes"
	"io"
	"mime"
	"strings"
)

// Parse parses the message of size bytes read through r into its part
// tree. Content never makes it fail (see the package doc); the error is
// a read error of r, and the tree is then incomplete.
func Parse(r io.ReaderAt, size int64) (*Part, error) {
	return parse(r, size, window)
}

// parse is Parse with a read window of w bytes.
func parse(r io.ReaderAt, size, w int64) (*Part, error) {
	p := &parser{src: newSource(r, size, w)}
	root := p.part(0, size, 0, false)
	return root, p.src.err
}

// ParseBytes parses a message held in memory.
func ParseBytes(raw []byte) *Part {
	// The window is the message itself: nothing is copied.
	src := &source{r: bytes.NewReader(raw), size: int64(len(raw)), buf: raw, n: len(raw)}
	p := &parser{src: src}
	return p.part(0, src.size, 0, false)
}

// parser holds the state of parsing one message.
type parser struct {
	src   *source
	parts int
}

// part parses the part in [start, end).
func (p *parser) part(start, end int64, depth int, digest bool) *Part {
	p.parts++
	e := &Part{Start: start, End: end}
	e.Fields, e.HeaderEnd, e.BodyStart = p.header(start, end)
	e.Type, e.Subtype = "text", "plain"
	if digest {
		e.Type, e.Subtype = "message", "rfc822"
	}
	if ct := e.Get("Content-Type"); ct != "" {
		if t, s, params, ok := ParseMediaType(ct); ok {
			e.Type, e.Subtype, e.Params = t, s, params
		}
	}
	if depth >= MaxDepth || p.parts >= MaxParts {
		if e.Multipart() {
			e.Type, e.Subtype = "text", "plain"
		}
		e.Lines = p.src.count(e.BodyStart, e.End, '\n')
		return e
	}
	switch {
	case e.Multipart():
		b := e.Params["boundary"]
		if b == "" {
			// A multipart without a boundary cannot be split: it is text.
			e.Type, e.Subtype = "text", "plain"
			break
		}
		for _, r := range p.split(e.BodyStart, e.End, b) {
			if p.parts >= MaxParts {
				break
			}
			e.Parts = append(e.Parts, p.part(r[0], r[1], depth+1, e.Subtype == "digest"))
		}
		return e
	case e.Type == "message" && (e.Subtype == "rfc822" || e.Subtype == "global"):
		e.Message = p.part(e.BodyStart, e.End, depth+1, false)
	}
	e.Lines = p.src.count(e.BodyStart, e.End, '\n')
	return e
}

// header reads the header block of [start, end): the fields, where the
// last header line ends and where the body starts (after the first empty
// line). Without an empty line the whole range is header. Lines that are
// neither fields nor continuations (an mbox "From " line, garbage) stay in
// the header block but yield no field.
func (p *parser) header(start, end int64) (fields []Field, hdrEnd, bodyStart int64) {
	var cur *Field
	var val []byte
	flush := func() {
		if cur != nil {
			cur.Value = strings.TrimSpace(string(val))
			fields = append(fields, *cur)
			cur, val = nil, nil
		}
	}
	for i := start; i < end; {
		eol, next := p.src.nextLine(i, end)
		if eol == i && eol < end {
			flush()
			return fields, i, next
		}
		line := p.src.bytes(i, eol, maxLine)
		if continuation(line) && cur != nil {
			cur.End = next
			if len(val) < maxValue {
				val = append(val, line...)
			}
		} else {
			flush()
			if name, rest, ok := splitField(line, false); ok {
				cur = &Field{Name: string(name), Start: i, End: next}
				val = append([]byte(nil), rest...)
			}
		}
		if p.src.err != nil {
			break
		}
		i = next
	}
	flush()
	return fields, end, end
}

// split finds the parts of a multipart body [start, end) with the given
// boundary (RFC 2046 section 5.1.1) and returns their ranges. The line
// terminator before a delimiter belongs to the delimiter. The preamble and
// epilogue are not parts; without a close delimiter the last part runs to
// the end.
func (p *parser) split(start, end int64, boundary string) [][2]int64 {
	delim := []byte("--" + boundary)
	var out [][2]int64
	partStart := int64(-1)
	for i := start; i < end; {
		pos := p.src.index(i, end, delim)
		if pos < 0 {
			break
		}
		i = pos + int64(len(delim))
		if pos != start && p.src.at(pos-1) != '\n' {
			continue // not at the start of a line
		}
		eol, next := p.src.nextLine(i, end)
		rest := p.src.bytes(i, eol, maxLine)
		closing := bytes.HasPrefix(rest, []byte("--"))
		if closing {
			rest = rest[2:]
		}
		if len(bytes.TrimRight(rest, " \t")) != 0 || eol-i > maxLine {
			continue // a longer boundary that merely starts with ours
		}
		if partStart >= 0 {
			out = append(out, [2]int64{partStart, max(partStart, p.lineStartBefore(start, pos))})
		}
		if closing {
			return out
		}
		partStart, i = next, next
	}
	if partStart >= 0 {
		out = append(out, [2]int64{partStart, end})
	}
	return out
}

// lineStartBefore returns the position of the line terminator that ends
// the line before pos (pos itself when pos is the start of the range).
func (p *parser) lineStartBefore(start, pos int64) int64 {
	if pos == start {
		return pos
	}
	if p.src.at(pos-1) == '\n' && pos-2 >= start && p.src.at(pos-2) == '\r' {
		return pos - 2
	}
	return pos - 1
}

// ParseMediaType parses a Content-Type value leniently: a syntactically
// broken parameter list still yields the type and whatever parameters can
// be read (the boundary above all). ok is false when there is no valid
// type/subtype.
func ParseMediaType(v string) (typ, sub string, params map[string]string, ok bool) {
	mt, ps, err := mime.ParseMediaType(v)
	if err != nil {
		mt, _, _ = strings.Cut(v, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
		ps = LenientParams(v)
	}
	typ, sub, found := strings.Cut(mt, "/")
	typ, sub = strings.TrimSpace(typ), strings.TrimSpace(sub)
	if !found || !Token(typ) || !Token(sub) {
		return "", "", nil, false
	}
	return typ, sub, ps, true
}

// LenientParams reads name=value pairs after the first ';' without
// validating them: values are quoted strings or run to the next ';'.
func LenientParams(v string) map[string]string {
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
		if Token(name) {
			if _, dup := out[name]; !dup {
				out[name] = item
			}
		}
	}
	return out
}

// Token reports whether s is a non-empty MIME token (RFC 2045).
func Token(s string) bool {
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

// Header parses only the header of a message (or of the start of one):
// the root part with its fields, header end and body start, and its media
// type; no parts, no line count.
func Header(raw []byte) *Part {
	p := &parser{src: &source{r: bytes.NewReader(raw), size: int64(len(raw)), buf: raw, n: len(raw)}}
	e := &Part{End: int64(len(raw)), Type: "text", Subtype: "plain"}
	e.Fields, e.HeaderEnd, e.BodyStart = p.header(0, e.End)
	if t, s, params, ok := ParseMediaType(e.Get("Content-Type")); ok {
		e.Type, e.Subtype, e.Params = t, s, params
	}
	return e
}
