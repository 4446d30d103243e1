package message

import "strings"

// Limits that bound the work spent on pathological messages. Beyond them
// the remaining content is treated as an opaque leaf; nothing fails.
const (
	// MaxDepth bounds the nesting of multiparts and enclosed messages.
	MaxDepth = 32
	// MaxParts bounds the parts parsed per message.
	MaxParts = 4096
	// maxLine caps the bytes of one header line that are read.
	maxLine = 1 << 20
	// maxValue stops appending continuation lines to a field's value.
	maxValue = 1 << 16
)

// Field is one header field.
type Field struct {
	Name  string // as written (trailing blanks before the colon removed)
	Value string // unfolded value (terminators removed), trimmed
	Start int64  // first byte of the field
	End   int64  // end of its last line, terminator included
}

// Part is a node of a message's MIME tree, described by byte offsets into
// the stored message.
type Part struct {
	Start     int64 // first byte of the header
	HeaderEnd int64 // end of the last header line ([HeaderEnd, BodyStart) is the blank line)
	BodyStart int64 // first byte of the body
	End       int64 // end of the body (exclusive)
	Fields    []Field
	// Type and Subtype are the lower-case media type, never empty
	// (text/plain by default, message/rfc822 in a digest).
	Type, Subtype string
	// Params are the Content-Type parameters (lower-case names).
	Params map[string]string
	// Parts are the parts of a multipart.
	Parts []*Part
	// Message is the enclosed message of a message/rfc822 (or global) part.
	Message *Part
	// Lines counts the line feeds of the body of a part that is not a
	// multipart.
	Lines int64
}

// Multipart reports whether p has parts.
func (p *Part) Multipart() bool { return p.Type == "multipart" }

// Get returns the value of the first field named name (ASCII case
// ignored), or "".
func (p *Part) Get(name string) string {
	for i := range p.Fields {
		if strings.EqualFold(p.Fields[i].Name, name) {
			return p.Fields[i].Value
		}
	}
	return ""
}

// BodySize is the size of the body in bytes.
func (p *Part) BodySize() int64 { return p.End - p.BodyStart }

// Find returns the part a part path names (RFC 9051 section 6.4.5), or nil
// when there is none. For a message that is not multipart, part 1 is its
// body.
func (p *Part) Find(path []int) *Part {
	cur := p
	if len(path) > 0 && !p.Multipart() {
		if path[0] != 1 {
			return nil
		}
		path = path[1:]
	}
	for _, n := range path {
		if cur = cur.child(n); cur == nil {
			return nil
		}
	}
	return cur
}

// child returns part n (from 1) of p: a part of a multipart, or, for a
// message/rfc822 part, part n of the enclosed message (whose part 1 is its
// body when it is not multipart).
func (p *Part) child(n int) *Part {
	if p.Message != nil {
		p = p.Message
	}
	if p.Multipart() {
		if n < 1 || n > len(p.Parts) {
			return nil
		}
		return p.Parts[n-1]
	}
	if n == 1 {
		return p
	}
	return nil
}
