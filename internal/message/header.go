package message

import "bytes"

// This file is the one header-field scanner of the code base: the rules
// for splitting a header block into fields and unfolding them. Parse and
// Builder classify their header lines with splitField and continuation
// (they keep byte offsets per field); HeaderScanner applies the same rules
// to a header streamed through it, for callers that want only fields:
// the store's index fields (mailstore.ParseHeader) and the delivery
// queue's Received count (hop limit).
//
// The rules every caller shares: a line that starts with a space or a tab
// continues the field before it (obs-fold) and its bytes are appended as
// they are; a line "name:value" with a name of printable ASCII starts a
// field; any other line (an mbox "From " line, garbage) ends the field
// before it and yields none; the first empty line ends the header; 8-bit
// bytes are kept as they are (decoding is the caller's). Where callers
// differ, HeaderOptions says so, and why.

// HeaderOptions are the rules on which the scanner's callers differ.
type HeaderOptions struct {
	// LoneCR makes a lone CR end a line, like LF and CRLF. The store's
	// index fields use it (a CR-only message still gets its Subject and
	// From indexed, as mail from old Mac mailers expects). The MIME
	// structure does not (a lone CR is not a line end for Dovecot, dsync
	// and imapsync, whose section offsets we must match), nor does the
	// SMTP hop count (a Received field hidden behind a lone CR is not a
	// field for the next MTA either).
	LoneCR bool
	// StrictName refuses blanks between a field name and its colon. The
	// store's index fields use it ("Subject :" is not indexed, as before
	// this scanner existed); the MIME structure and the hop count accept
	// the RFC 5322 obsolete syntax (obs-optional: name WSP* ":"), since
	// a Received field written that way is still a hop.
	StrictName bool
	// Limit stops the scan after this many bytes (0: no limit): the hop
	// count looks at most 1 MiB into a message while DATA streams.
	Limit int
	// MaxLine is how many bytes of a line are kept (0: all). A field whose
	// colon lies beyond them is not a field. The hop count keeps 998 (the
	// RFC 5322 line limit) so that it holds no more than that per line.
	MaxLine int
	// MaxValue stops appending continuation lines to a value once it holds
	// this many bytes (0: no limit).
	MaxValue int
}

// HeaderScanner reads a message's header section as it streams through
// Write (an io.Writer to tee a message into) and calls Field for every
// field once the field is complete. Call End after the last Write: it
// completes a last line without a line end and the field it belongs to.
type HeaderScanner struct {
	Opts HeaderOptions
	// Field receives a field's name (trailing blanks removed) and its
	// unfolded value: the blanks after the colon removed, continuation
	// lines appended with their leading blanks, line ends removed. value
	// is only valid during the call.
	Field func(name string, value []byte)

	done  bool
	n     int    // bytes seen
	line  []byte // the kept bytes of the current line
	llen  int    // the current line's length
	cr    bool   // LoneCR: the last byte was a CR
	name  string // the field being read ("" if none)
	value []byte
}

// Write scans p; it never fails.
func (h *HeaderScanner) Write(p []byte) (int, error) {
	for _, c := range p {
		if h.done {
			break
		}
		h.n++
		if h.Opts.LoneCR && h.cr {
			h.cr = false
			h.endLine()
			if c == '\n' || h.done {
				continue // CRLF
			}
		}
		switch {
		case c == '\n':
			if !h.Opts.LoneCR && h.lastCR() {
				h.llen--
				h.line = h.line[:min(len(h.line), h.llen)]
			}
			h.endLine()
			continue
		case c == '\r' && h.Opts.LoneCR:
			h.cr = true
			continue
		}
		if h.Opts.MaxLine == 0 || len(h.line) < h.Opts.MaxLine {
			h.line = append(h.line, c)
		}
		h.llen++
		if h.Opts.Limit > 0 && h.n >= h.Opts.Limit {
			h.done = true
		}
	}
	return len(p), nil
}

// lastCR reports whether the current line ends in CR (only a CR that was
// kept can be seen; a line longer than MaxLine is no empty line and no
// field anyway).
func (h *HeaderScanner) lastCR() bool {
	return len(h.line) > 0 && len(h.line) == h.llen && h.line[len(h.line)-1] == '\r'
}

// Done reports whether the header section has ended (its empty line, the
// Limit, or End).
func (h *HeaderScanner) Done() bool { return h.done }

// End completes the scan: a last line without a line end counts.
func (h *HeaderScanner) End() {
	if !h.done && (h.llen > 0 || h.cr) {
		h.endLine()
	}
	h.flush()
	h.done = true
}

// endLine evaluates the line that just ended.
func (h *HeaderScanner) endLine() {
	line, n := h.line, h.llen
	h.line, h.llen = h.line[:0], 0
	if n == 0 {
		h.flush()
		h.done = true // the empty line that ends the header section
		return
	}
	if continuation(line) {
		if h.name != "" && (h.Opts.MaxValue == 0 || len(h.value) < h.Opts.MaxValue) {
			h.value = append(h.value, line...)
		}
		return
	}
	h.flush()
	if name, rest, ok := splitField(line, h.Opts.StrictName); ok {
		h.name = string(name)
		h.value = append(h.value[:0], bytes.TrimLeft(rest, " \t")...)
	}
}

// flush hands the field being read to Field.
func (h *HeaderScanner) flush() {
	if h.name != "" {
		if h.Field != nil {
			h.Field(h.name, h.value)
		}
		h.name, h.value = "", h.value[:0]
	}
}

// continuation reports whether a header line continues the
// field before it.
func continuation(line []byte) bool { return len(line) > 0 && (line[0] == ' ' || line[0] == '\t') }

// splitField splits a header line that starts a field into its name
// (trailing blanks removed) and the bytes after the colon; ok is false for
// a line that is no field. strict refuses blanks before the colon.
func splitField(line []byte, strict bool) (name, rest []byte, ok bool) {
	c := bytes.IndexByte(line, ':')
	if c <= 0 {
		return nil, nil, false
	}
	name = line[:c]
	if !strict {
		name = bytes.TrimRight(name, " \t")
	}
	if len(name) == 0 {
		return nil, nil, false
	}
	for _, b := range name {
		if b < 33 || b > 126 {
			return nil, nil, false
		}
	}
	return name, line[c+1:], true
}
