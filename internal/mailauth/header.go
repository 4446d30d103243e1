package mailauth

import (
	"bufio"
	"bytes"
	"io"
	"strings"
)

// maxHeader bounds the header section read for authentication: a header
// larger than this is treated as ending there (the rest counts as body).
const maxHeader = 1 << 20

// field is one header field as it appears in the message: Raw holds the
// name, the colon, the value and its folding lines, including the final line
// end (CRLF or a bare LF, as received).
type field struct {
	Name string // as written, without trailing spaces
	Raw  []byte
}

// Value returns the field's value: everything after the first colon, raw
// (folding kept).
func (f field) Value() string {
	i := bytes.IndexByte(f.Raw, ':')
	if i < 0 {
		return ""
	}
	return string(f.Raw[i+1:])
}

// is reports whether the field has the given name (case-insensitive).
func (f field) is(name string) bool { return strings.EqualFold(f.Name, name) }

// readHeader reads the header section of a message from br: the fields, in
// order, up to the empty line (which is consumed) or the end of input. It
// never fails on malformed input: a line without a colon that is not a
// continuation is kept as a field with an empty name, which no lookup
// matches. It returns the fields and the number of bytes consumed.
func readHeader(br *bufio.Reader) ([]field, int, error) {
	var fields []field
	n := 0
	for n < maxHeader {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A very long line: collect it whole.
			buf := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				buf = append(buf, line...)
			}
			line = buf
		}
		n += len(line)
		if len(line) == 0 {
			if err == io.EOF {
				return fields, n, nil
			}
			return fields, n, err
		}
		if isBlank(line) {
			return fields, n, nil
		}
		if (line[0] == ' ' || line[0] == '\t') && len(fields) > 0 {
			last := &fields[len(fields)-1]
			last.Raw = append(last.Raw, line...)
		} else {
			name := ""
			if i := bytes.IndexByte(line, ':'); i > 0 {
				name = strings.TrimRight(string(line[:i]), " \t")
			}
			fields = append(fields, field{Name: name, Raw: append([]byte(nil), line...)})
		}
		if err == io.EOF {
			return fields, n, nil
		}
		if err != nil {
			return fields, n, err
		}
	}
	return fields, n, nil
}

// isBlank reports whether line is an empty line ("\r\n" or "\n").
func isBlank(line []byte) bool {
	return len(line) == 1 && line[0] == '\n' || len(line) == 2 && line[0] == '\r' && line[1] == '\n'
}

// parseHeader reads the header section of msg.
func parseHeader(msg []byte) []field {
	fs, _, _ := readHeader(bufio.NewReader(bytes.NewReader(msg)))
	return fs
}

// relaxedHeader returns the relaxed canonical form of a header field (RFC
// 6376 section 3.4.2): lower-case name, unfolded, runs of spaces and tabs
// collapsed to one space, spaces around the colon and at the end removed,
// ending in CRLF.
func relaxedHeader(raw []byte) string {
	i := bytes.IndexByte(raw, ':')
	if i < 0 {
		return ""
	}
	name := strings.ToLower(strings.TrimRight(string(raw[:i]), " \t"))
	v := raw[i+1:]
	var b strings.Builder
	b.Grow(len(name) + len(v) + 3)
	b.WriteString(name)
	b.WriteByte(':')
	space := false
	started := false
	for _, c := range v {
		switch c {
		case '\r', '\n':
			continue
		case ' ', '\t':
			space = true
			continue
		}
		if space && started {
			b.WriteByte(' ')
		}
		space = false
		started = true
		b.WriteByte(c)
	}
	b.WriteString("\r\n")
	return b.String()
}

// relaxedBody canonicalizes a body (RFC 6376 section 3.4.4) into w as it is
// written: line ends become CRLF (a bare LF counts as a line end, as it
// does once the message crosses SMTP), runs of spaces and tabs become one
// space, spaces at line ends and empty lines at the end are removed. Close
// flushes the last line.
type relaxedBody struct {
	w       io.Writer
	line    []byte // the current line, canonicalized so far
	space   bool   // a space run is pending in the current line
	empties int    // empty lines held back (they may be trailing)
	any     bool   // some non-empty line was written
}

// Write implements io.Writer.
func (r *relaxedBody) Write(p []byte) (int, error) {
	for _, c := range p {
		switch c {
		case '\n':
			if err := r.endLine(); err != nil {
				return 0, err
			}
		case '\r':
			// Part of a line end; a CR elsewhere is dropped too, as the
			// wire form would carry it only in a CRLF pair.
		case ' ', '\t':
			r.space = true
		default:
			if r.space {
				r.line = append(r.line, ' ')
			}
			r.space = false
			r.line = append(r.line, c)
		}
	}
	return len(p), nil
}

func (r *relaxedBody) endLine() error {
	r.space = false
	if len(r.line) == 0 {
		r.empties++
		return nil
	}
	for ; r.empties > 0; r.empties-- {
		if _, err := io.WriteString(r.w, "\r\n"); err != nil {
			return err
		}
	}
	r.line = append(r.line, '\r', '\n')
	_, err := r.w.Write(r.line)
	r.line = r.line[:0]
	r.any = true
	return err
}

// Close writes a last line that had no line end.
func (r *relaxedBody) Close() error {
	if len(r.line) > 0 {
		return r.endLine()
	}
	return nil
}

// pickFields returns, for each name in names, the next unused instance of
// that field counting from the bottom of the header (RFC 6376 section
// 5.4.2); names with no instance left are skipped.
func pickFields(fs []field, names []string) [][]byte {
	used := map[string]int{}
	var out [][]byte
	for _, n := range names {
		key := strings.ToLower(strings.TrimSpace(n))
		skip := used[key]
		for i := len(fs) - 1; i >= 0; i-- {
			if !fs[i].is(key) {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			out = append(out, fs[i].Raw)
			break
		}
		used[key]++
	}
	return out
}

// foldTags writes "name: tag=value; tag=value" folded at about 78 columns,
// with long values (b=, bh=) broken across lines. The result ends in CRLF.
func foldTags(name string, tags [][2]string) string {
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte(':')
	col := len(name) + 1
	for i, t := range tags {
		item := t[0] + "=" + t[1]
		if i < len(tags)-1 {
			item += ";"
		}
		if col+1+len(item) > 78 && col > 1 {
			b.WriteString("\r\n\t")
			col = 1
		} else {
			b.WriteByte(' ')
			col++
		}
		if t[0] == "h" {
			// Fold only after a colon: a name must not be split.
			for j, name := range strings.SplitAfter(item, ":") {
				if j > 0 && col+len(name) > 78 {
					b.WriteString("\r\n\t")
					col = 1
				}
				b.WriteString(name)
				col += len(name)
			}
			continue
		}
		if t[0] == "b" || t[0] == "bh" || len(item) > 76 {
			for len(item) > 0 {
				room := max(76-col, 20)
				if room >= len(item) {
					b.WriteString(item)
					col += len(item)
					break
				}
				b.WriteString(item[:room])
				item = item[room:]
				b.WriteString("\r\n\t")
				col = 1
			}
			continue
		}
		b.WriteString(item)
		col += len(item)
	}
	b.WriteString("\r\n")
	return b.String()
}

// parseTags parses a DKIM-style tag list ("a=b; c=d") into a map with
// whitespace removed from values (RFC 6376 section 3.2). Duplicate tags
// make ok false.
func parseTags(s string) (map[string]string, bool) {
	out := map[string]string{}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, found := strings.Cut(part, "=")
		if !found {
			return nil, false
		}
		k = strings.TrimSpace(k)
		if _, dup := out[k]; dup {
			return nil, false
		}
		out[k] = stripSpace(v)
	}
	return out, true
}

// stripSpace removes all whitespace (folding included) from s.
func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
}
