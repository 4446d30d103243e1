package importer

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"time"
)

// MboxMessage is one message of an mbox file.
type MboxMessage struct {
	// Separator is the "From " line that introduced the message, without
	// its line ending ("" for bytes before the first separator).
	Separator string
	// Date is the date of the separator line (UTC when it has no zone), or
	// the zero time if it has none that parses.
	Date time.Time
	// Data holds the message bytes (SplitMbox only; MboxReader streams).
	Data []byte
}

// MboxReader splits an mbox stream into messages without holding a message
// in memory. This is the one definition of the split used everywhere:
//
//   - A separator is a line starting with "From " at the start of the input
//     or right after a line ending. The line ending is LF (which also ends
//     CRLF lines), or CR for a CR-only file: the first line ending of the
//     input decides.
//   - A message is every byte after its separator line up to the next
//     separator line (or the end of input), minus exactly one trailing empty
//     line that the mbox format added: if the message ends in an empty line
//     ("\n", "\r\n", or "\r" in a CR-only file), that final line ending is
//     dropped. Nothing else is changed: ">From " is never unescaped, NULs,
//     bare CRs and 8-bit bytes are kept.
//   - Bytes before the first separator form a message with an empty
//     Separator, unless they are only empty lines.
type MboxReader struct {
	br      *bufio.Reader
	delim   byte // '\n', or '\r' for CR-only input
	started bool
	atStart bool // the next chunk begins a line
	sep     string
	hasSep  bool // a separator was read for the next message
	cur     *mboxBody
	err     error
}

// NewMboxReader returns a reader of the mbox stream r.
func NewMboxReader(r io.Reader) *MboxReader {
	return &MboxReader{br: bufio.NewReaderSize(r, 64<<10), delim: '\n', atStart: true}
}

// Next returns the next message's separator data and a reader of its bytes,
// valid until the following call to Next (which skips whatever of it was
// not read). At the end it returns io.EOF.
func (m *MboxReader) Next() (MboxMessage, io.Reader, error) {
	if m.cur != nil {
		if _, err := io.Copy(io.Discard, m.cur); err != nil {
			return MboxMessage{}, nil, err
		}
		m.cur = nil
	}
	if m.err != nil {
		return MboxMessage{}, nil, m.err
	}
	if !m.started {
		m.started = true
		m.detect()
		var lead []byte
		for {
			line, complete, err := m.chunk()
			if err != nil && err != io.EOF {
				m.err = err
				return MboxMessage{}, nil, err
			}
			if len(line) == 0 && err == io.EOF {
				m.err = io.EOF
				return MboxMessage{}, nil, io.EOF
			}
			if isSeparator(line) {
				if err := m.readSeparator(line, complete); err != nil {
					return MboxMessage{}, nil, err
				}
				break
			}
			if complete && m.emptyLine(line) {
				lead = append(lead, line...)
				continue
			}
			// Content before any separator: a message of its own.
			m.atStart = complete
			m.cur = &mboxBody{m: m, carry: append(lead, line...), eof: err == io.EOF}
			return MboxMessage{}, m.cur, nil
		}
	}
	if !m.hasSep {
		m.err = io.EOF
		return MboxMessage{}, nil, io.EOF
	}
	msg := MboxMessage{Separator: m.sep, Date: separatorDate(m.sep)}
	m.hasSep = false
	m.cur = &mboxBody{m: m}
	return msg, m.cur, nil
}

// detect picks the line ending from the first one in the input.
func (m *MboxReader) detect() {
	head, _ := m.br.Peek(64 << 10)
	if i := bytes.IndexAny(head, "\r\n"); i >= 0 && head[i] == '\r' && i+1 < len(head) && head[i+1] != '\n' {
		m.delim = '\r'
	}
}

// chunk returns the next piece of input: a whole line with its ending
// (complete), or a full buffer of a longer line. The slice is only valid
// until the next read.
func (m *MboxReader) chunk() (line []byte, complete bool, err error) {
	line, err = m.br.ReadSlice(m.delim)
	switch err {
	case nil:
		complete = true
	case bufio.ErrBufferFull:
		err = nil
	}
	return line, complete, err
}

func isSeparator(line []byte) bool { return bytes.HasPrefix(line, []byte("From ")) }

// emptyLine reports whether a complete line is only a line ending.
func (m *MboxReader) emptyLine(line []byte) bool {
	if m.delim == '\r' {
		return len(line) == 1
	}
	return len(line) == 1 || len(line) == 2 && line[0] == '\r'
}

// readSeparator consumes the rest of a separator line and records it.
func (m *MboxReader) readSeparator(first []byte, complete bool) error {
	sep := append([]byte(nil), first...)
	for !complete {
		more, c, err := m.chunk()
		sep = append(sep, more...)
		complete = c
		if err == io.EOF {
			break
		}
		if err != nil {
			m.err = err
			return err
		}
	}
	s := strings.TrimRight(string(sep), "\r\n")
	m.sep, m.hasSep, m.atStart = s, true, true
	return nil
}

// mboxBody streams one message.
type mboxBody struct {
	m     *MboxReader
	carry []byte // bytes ready to hand out
	held  []byte // a trailing empty line, emitted only if content follows
	done  bool
	eof   bool // the input ended while reading the first chunk
}

func (b *mboxBody) Read(p []byte) (int, error) {
	for len(b.carry) == 0 && !b.done {
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
	if len(b.carry) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b.carry)
	b.carry = b.carry[n:]
	return n, nil
}

func (b *mboxBody) fill() error {
	m := b.m
	if b.eof {
		b.done = true
		return nil
	}
	atStart := m.atStart
	line, complete, err := m.chunk()
	if err != nil && err != io.EOF {
		m.err = err
		return err
	}
	if len(line) == 0 && err == io.EOF {
		b.done, b.held = true, nil // the input ends: drop the mbox's empty line
		return nil
	}
	if atStart && isSeparator(line) {
		b.done, b.held = true, nil
		return m.readSeparator(line, complete)
	}
	if atStart && complete && m.emptyLine(line) {
		b.carry = append(b.carry[:0], b.held...)
		b.held = append(b.held[:0:0], line...)
		m.atStart = true
		return nil
	}
	b.carry = append(append(b.carry[:0], b.held...), line...)
	b.held = nil
	m.atStart = complete
	if err == io.EOF {
		b.eof = true
	}
	return nil
}

// SplitMbox splits an mbox file held in memory, by the rules of MboxReader.
func SplitMbox(data []byte) []MboxMessage {
	r := NewMboxReader(bytes.NewReader(data))
	var out []MboxMessage
	for {
		msg, body, err := r.Next()
		if err != nil {
			return out // bytes.Reader never fails: err is io.EOF
		}
		msg.Data, _ = io.ReadAll(body)
		out = append(out, msg)
	}
}

var separatorLayouts = []string{
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 2006 -0700",
	"Mon Jan 2 15:04:05 -0700 2006",
	"Mon Jan 2 15:04:05 MST 2006",
	"Mon Jan 2 15:04 2006",
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"2 Jan 2006 15:04:05 -0700",
}

// separatorDate parses the date of a "From sender date" line.
func separatorDate(sep string) time.Time {
	f := strings.Fields(strings.TrimPrefix(sep, "From "))
	for _, skip := range []int{1, 0} { // normally after the sender
		if len(f) <= skip {
			continue
		}
		v := strings.Join(f[skip:], " ")
		for _, l := range separatorLayouts {
			if t, err := time.Parse(l, v); err == nil {
				return t
			}
		}
		// Trailing remote-from text and the like: try the first five words.
		if len(f) >= skip+5 {
			v = strings.Join(f[skip:skip+5], " ")
			if t, err := time.Parse(separatorLayouts[0], v); err == nil {
				return t
			}
		}
	}
	return time.Time{}
}
