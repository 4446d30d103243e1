package message

import (
	"bytes"
	"io"
)

// window is the size of the read window of a source.
const window = 64 << 10

// source reads a message through an io.ReaderAt in windows: every scan
// holds at most one window of the message.
type source struct {
	r    io.ReaderAt
	size int64
	buf  []byte
	off  int64 // message offset of buf[0]
	n    int   // valid bytes in buf
	err  error // the first read error
}

func newSource(r io.ReaderAt, size, window int64) *source {
	return &source{r: r, size: size, buf: make([]byte, min(window, max(size, 1)))}
}

// load reads the window starting at at.
func (s *source) load(at int64) {
	s.off, s.n = at, 0
	want := min(int64(len(s.buf)), s.size-at)
	if want <= 0 {
		return
	}
	n, err := s.r.ReadAt(s.buf[:want], at)
	s.n = n
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	if n < int(want) && s.err == nil {
		s.err = io.ErrUnexpectedEOF
	}
}

// has reports whether the window holds offset i.
func (s *source) has(i int64) bool { return i >= s.off && i < s.off+int64(s.n) }

// at returns the byte at offset i (0 past the end or after an error).
func (s *source) at(i int64) byte {
	if !s.has(i) {
		s.load(max(0, i-min(64, int64(len(s.buf))/2)))
		if !s.has(i) {
			return 0
		}
	}
	return s.buf[i-s.off]
}

// index returns the offset of the first occurrence of pat in [i, end), or
// -1.
func (s *source) index(i, end int64, pat []byte) int64 {
	if len(pat) > len(s.buf)/2 && int64(len(s.buf)) < s.size {
		// A pattern longer than half the window (a long boundary): grow
		// the window, so that every window can hold a match.
		s.buf, s.n = make([]byte, min(2*int64(len(pat)), s.size)), 0
	}
	for i < end && s.err == nil {
		if !s.has(i) || s.off+int64(s.n)-i < int64(len(pat)) && s.off+int64(s.n) < end {
			s.load(i)
			if !s.has(i) {
				return -1
			}
		}
		stop := min(s.off+int64(s.n), end)
		if k := bytes.Index(s.buf[i-s.off:stop-s.off], pat); k >= 0 {
			return i + int64(k)
		}
		if stop >= end {
			return -1
		}
		i = max(i+1, stop-int64(len(pat))+1)
	}
	return -1
}

// count returns the number of bytes c in [i, end).
func (s *source) count(i, end int64, c byte) int64 {
	var n int64
	for i < end && s.err == nil {
		if !s.has(i) {
			s.load(i)
			if !s.has(i) {
				return n
			}
		}
		stop := min(s.off+int64(s.n), end)
		n += int64(bytes.Count(s.buf[i-s.off:stop-s.off], []byte{c}))
		i = stop
	}
	return n
}

// bytes returns a copy of [i, end), at most limit bytes of it.
func (s *source) bytes(i, end int64, limit int) []byte {
	end = min(end, i+int64(limit))
	if end <= i {
		return nil
	}
	if s.has(i) && s.has(end-1) {
		return append([]byte(nil), s.buf[i-s.off:end-s.off]...)
	}
	out := make([]byte, end-i)
	n, err := s.r.ReadAt(out, i)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return out[:n]
}

// nextLine returns the end of the line starting at i (before its
// terminator) and the start of the next line. A line ends at LF or CRLF;
// a lone CR is not a line end.
func (s *source) nextLine(i, end int64) (eol, next int64) {
	j := s.index(i, end, []byte{'\n'})
	if j < 0 {
		return end, end
	}
	if j > i && s.at(j-1) == '\r' {
		return j - 1, j + 1
	}
	return j, j + 1
}
