package message

import (
	"bytes"
	"strings"
)

// Builder parses a message incrementally from the bytes written to it, in
// one pass, while they are being stored: the tree Tree returns is the one
// Parse gives for the same bytes (FuzzBuilder and the corpus test hold
// them equal), but no byte is read back.
//
// Parse scans a range again per level of nesting; Builder instead keeps a
// stack of the parts that are open at the current line and classifies
// each line once, against the delimiters of the open multiparts (the
// outermost first, as Parse splits the outer range before the inner). A
// line terminator belongs to a part only if the next line is not a
// delimiter that closes the part (RFC 2046: the CRLF before a delimiter
// is part of the delimiter), so a line's terminator is settled when the
// next line is complete: the builder lags one terminator behind.
//
// Memory is bounded by the start of the current line it keeps (at most
// 2*maxLine+maxValue bytes, for the longest delimiter or header line Parse
// looks at), the header values, and the number of parts (MaxParts).
type Builder struct {
	off    int64    // bytes written
	lstart int64    // where the current line starts
	buf    []byte   // the kept start of the current line
	llen   int64    // the current line's length so far
	lcr    bool     // the current line's last byte is CR
	stack  []*frame // the open parts, the root first
	parts  int      // parts created (Parse's count)
	nl     int64    // line feeds seen, pending one included
	pend   *pending // the last line's terminator, not yet settled
	spare  pending  // what pend points to for a body line (no allocation per line)
	root   *Part
	done   bool
}

// keepLine is how much of a line the builder keeps: enough for a
// delimiter of the longest boundary a header can give followed by
// maxLine bytes, and for a header line.
const keepLine = 2*maxLine + maxValue + 8

// frame states.
const (
	stHeader   = iota // reading the header
	stLeaf            // the body of a part that is not a multipart (its line feeds are Lines)
	stMulti           // a multipart's body: its delimiter is live
	stEpilogue        // after a multipart's close delimiter (or its part cap)
)

// frame is an open part.
type frame struct {
	p      *Part
	depth  int
	digest bool // a part of a multipart/digest: message/rfc822 by default
	state  int
	cur    *Field // the header field being read
	val    []byte // its value so far
	bodyNL int64  // Builder.nl at the start of the body
	delim  []byte // "--boundary" in stMulti
}

// pending is a complete line whose terminator is not yet settled.
type pending struct {
	start, eol, next int64
	sep              *frame // the line was an empty header line of sep
	field            *Field // the line ended field (its End is eol until settled)
}

// NewBuilder returns a Builder at the start of a message.
func NewBuilder() *Builder {
	b := &Builder{}
	b.root = b.open(0, 0, false)
	return b
}

// open starts a part at start and pushes it.
func (b *Builder) open(start int64, depth int, digest bool) *Part {
	b.parts++
	p := &Part{Start: start}
	b.stack = append(b.stack, &frame{p: p, depth: depth, digest: digest})
	return p
}

// Write parses p. It never fails.
func (b *Builder) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if room := keepLine - len(b.buf); room > 0 {
			b.buf = append(b.buf, chunk[:min(len(chunk), room)]...)
		}
		if len(chunk) > 0 {
			b.lcr = chunk[len(chunk)-1] == '\r'
		}
		b.llen += int64(len(chunk))
		b.off += int64(len(chunk))
		if i < 0 {
			break
		}
		b.off++
		b.endLine(true)
		p = p[i+1:]
	}
	return n, nil
}

// endLine processes the current line; withLF tells whether a line feed
// ends it (otherwise the end of the message does).
func (b *Builder) endLine(withLF bool) {
	l := line{start: b.lstart, eol: b.lstart + b.llen, next: b.off, term: withLF}
	if withLF && b.lcr && b.llen > 0 {
		l.eol--
	}
	l.text = b.buf[:min(int64(len(b.buf)), l.eol-l.start)]
	b.process(l)
	b.buf, b.llen, b.lcr, b.lstart = b.buf[:0], 0, false, b.off
}

// line is a complete line: [start, eol) is its text, [eol, next) its
// terminator (none when term is false), text the kept start of the text.
type line struct {
	start, eol, next int64
	term             bool
	text             []byte
}

// len is the length of the line's text.
func (l line) len() int64 { return l.eol - l.start }

// process handles one complete line.
func (b *Builder) process(l line) {
	k := b.match(l)
	if k < 0 && b.pend != nil && b.pend.sep != nil {
		// No enclosing part ends here: the empty line was the end of the
		// header, which may make the part a live multipart.
		b.settle()
		k = b.match(l)
	}
	if k >= 0 {
		b.delimiter(k, l)
		return
	}
	b.settle()
	if f := b.top(); f.state == stHeader && l.len() > 0 {
		b.headerLine(f, l)
	} else if f.state == stHeader && l.term {
		b.pend = &pending{start: l.start, eol: l.eol, next: l.next, sep: f}
		return
	}
	if l.term {
		if b.pend == nil {
			b.spare = pending{}
			b.pend = &b.spare
		}
		b.pend.start, b.pend.eol, b.pend.next = l.start, l.eol, l.next
	}
}

// top returns the innermost open part.
func (b *Builder) top() *frame { return b.stack[len(b.stack)-1] }

// match returns the index of the outermost live multipart whose
// delimiter l is, or -1 (Parse's split: a delimiter starts a line, may be
// followed by "--" and blanks, and is not followed by more than maxLine
// bytes).
func (b *Builder) match(l line) int {
	for k, f := range b.stack {
		if f.state != stMulti || l.len() < int64(len(f.delim)) || !bytes.HasPrefix(l.text, f.delim) {
			continue
		}
		if l.len()-int64(len(f.delim)) > maxLine {
			continue
		}
		rest := bytes.TrimPrefix(l.text[len(f.delim):], []byte("--"))
		if len(bytes.TrimRight(rest, " \t")) == 0 {
			return k
		}
	}
	return -1
}

// settle gives the pending terminator to every open part: it ends the
// field it followed, and an empty header line ends the header.
func (b *Builder) settle() {
	p := b.pend
	if p == nil {
		return
	}
	b.pend = nil
	b.nl++
	if p.field != nil {
		p.field.End = p.next
	}
	if p.sep != nil {
		b.endHeader(p.sep, p.start, p.next)
	}
}

// delimiter handles l, a delimiter of the multipart stack[k]: the parts
// inside it end before the terminator of the line before, then a part
// starts after l, or the multipart's epilogue does.
func (b *Builder) delimiter(k int, l line) {
	end := l.start
	if b.pend != nil {
		end = b.pend.eol
	}
	b.closeAbove(k, end)
	if b.pend != nil { // the terminator belongs to the multipart
		b.pend = nil
		b.nl++
	}
	f := b.stack[k]
	if bytes.HasPrefix(l.text[len(f.delim):], []byte("--")) {
		f.state = stEpilogue
	} else if b.parts < MaxParts {
		f.p.Parts = append(f.p.Parts, b.open(l.next, f.depth+1, f.p.Subtype == "digest"))
	} else {
		f.state = stEpilogue
	}
	if l.term {
		b.pend = &pending{start: l.start, eol: l.eol, next: l.next}
	}
}

// closeAbove ends the parts above stack[k] at end (at their start if that
// is later).
func (b *Builder) closeAbove(k int, end int64) {
	for len(b.stack) > k+1 {
		f := b.top()
		e := max(end, f.p.Start)
		if f.state == stHeader {
			b.endHeader(f, e, e) // may open the enclosed message
			continue
		}
		f.p.End = e
		if f.state == stLeaf {
			f.p.Lines = b.nl - f.bodyNL
		}
		b.stack = b.stack[:len(b.stack)-1]
	}
}

// headerLine reads a header line of f (Parse's header).
func (b *Builder) headerLine(f *frame, l line) {
	text := l.text[:min(len(l.text), maxLine)]
	if continuation(text) && f.cur != nil {
		f.cur.End = l.eol
		if len(f.val) < maxValue {
			f.val = append(f.val, text...)
		}
	} else {
		f.flush()
		if name, rest, ok := splitField(text, false); ok {
			f.cur = &Field{Name: string(name), Start: l.start, End: l.eol}
			f.val = append([]byte(nil), rest...)
		}
	}
	if l.term && f.cur != nil {
		b.pend = &pending{field: f.cur}
	}
}

// flush stores the field being read.
func (f *frame) flush() {
	if f.cur != nil {
		f.cur.Value = strings.TrimSpace(string(f.val))
		f.p.Fields = append(f.p.Fields, *f.cur)
		f.cur, f.val = nil, nil
	}
}

// endHeader ends f's header at hdrEnd with the body at bodyStart and
// decides what the body is (Parse's part).
func (b *Builder) endHeader(f *frame, hdrEnd, bodyStart int64) {
	f.flush()
	e := f.p
	e.HeaderEnd, e.BodyStart = hdrEnd, bodyStart
	e.Type, e.Subtype = "text", "plain"
	if f.digest {
		e.Type, e.Subtype = "message", "rfc822"
	}
	if ct := e.Get("Content-Type"); ct != "" {
		if t, s, params, ok := ParseMediaType(ct); ok {
			e.Type, e.Subtype, e.Params = t, s, params
		}
	}
	f.state, f.bodyNL = stLeaf, b.nl
	switch {
	case f.depth >= MaxDepth || b.parts >= MaxParts:
		if e.Multipart() {
			e.Type, e.Subtype = "text", "plain"
		}
	case e.Multipart():
		if bd := e.Params["boundary"]; bd != "" {
			f.state, f.delim = stMulti, []byte("--"+bd)
		} else {
			e.Type, e.Subtype = "text", "plain"
		}
	case e.Type == "message" && (e.Subtype == "rfc822" || e.Subtype == "global"):
		e.Message = b.open(bodyStart, f.depth+1, false)
	}
}

// Tree ends the message and returns its part tree. Write must not be
// called after it.
func (b *Builder) Tree() *Part {
	if !b.done {
		b.done = true
		if b.llen > 0 {
			b.endLine(false)
		}
		b.settle()
		b.closeAbove(-1, b.off)
	}
	return b.root
}
