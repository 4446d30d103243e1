package mailstore

import (
	"mime"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"

	"github.com/tenantferry/tenantferry/internal/message"
)

// HeaderFields are the header values the store indexes for an item.
type HeaderFields struct {
	Subject   string    // decoded (RFC 2047), valid UTF-8, single line
	MessageID string    // the first <...> of Message-ID, or its trimmed value
	From      string    // decoded From header
	Date      time.Time // Date header, zero if absent or unparsable
}

// maxHeaderCapture is how much of a message's start is kept for header
// parsing while it streams to the blob store.
const maxHeaderCapture = 64 << 10

// maxFieldLen caps indexed header values.
const maxFieldLen = 1000

var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// indexRules are the header scanner's rules for the index fields (see
// message.HeaderOptions for why they differ from the MIME structure's): a
// lone CR ends a line, so a CR-only message is indexed; no blanks before
// a field's colon.
var indexRules = message.HeaderOptions{LoneCR: true, StrictName: true, MaxValue: 4 * maxFieldLen}

// ParseHeader extracts HeaderFields from the start of a raw message with
// the one header scanner (message.HeaderScanner). It never fails: it
// accepts LF, CRLF and CR-only line endings, skips lines that are not
// "Name: value" (e.g. an mbox "From " line), keeps encoded words it
// cannot decode as they are, reads raw 8-bit text as Latin-1 when it is
// not UTF-8, and stops at the first empty line. The first occurrence of
// each field wins.
func ParseHeader(raw []byte) HeaderFields {
	var h HeaderFields
	var have [4]bool // subject, message-id, from, date
	sc := message.HeaderScanner{Opts: indexRules, Field: func(name string, val []byte) {
		switch {
		case strings.EqualFold(name, "Subject") && !have[0]:
			h.Subject, have[0] = cleanText(DecodeHeaderText(string(val))), true
		case strings.EqualFold(name, "Message-ID") && !have[1]:
			h.MessageID, have[1] = messageID(string(val)), true
		case strings.EqualFold(name, "From") && !have[2]:
			h.From, have[2] = cleanText(DecodeHeaderText(string(val))), true
		case strings.EqualFold(name, "Date") && !have[3]:
			h.Date, have[3] = parseDate(string(val)), true
		}
	}}
	sc.Write(raw)
	sc.End()
	return h
}

// DecodeHeaderText decodes the RFC 2047 encoded words of a header value;
// raw 8-bit text that is not UTF-8 is read as Latin-1. It never fails: what
// cannot be decoded is returned as it is.
func DecodeHeaderText(s string) string {
	if !utf8.ValidString(s) {
		s = Latin1(s)
	}
	if !strings.Contains(s, "=?") {
		return s
	}
	d, err := wordDecoder.DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
}

// Latin1 returns s with every byte that is not part of valid UTF-8 read as
// Latin-1 (the usual charset of raw 8-bit mail text).
func Latin1(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			b.WriteRune(rune(s[i]))
			i++
			continue
		}
		b.WriteString(s[i : i+n])
		i += n
	}
	return b.String()
}

// cleanText makes s valid UTF-8 on one line without control characters and
// caps its length.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxFieldLen {
		cut := maxFieldLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

func messageID(v string) string {
	v = cleanText(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return v[i : i+j+1]
		}
	}
	return v
}

var dateLayouts = []string{
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"2 Jan 2006 15:04:05 -0700",
	"2 Jan 2006 15:04:05 MST",
	"Mon, 2 Jan 2006 15:04 -0700",
	"Mon, 2 Jan 06 15:04:05 -0700",
	"Mon, 2 Jan 06 15:04:05 MST",
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 MST 2006",
	"Mon, 2 Jan 2006 15:04:05",
	"2006-01-02 15:04:05 -0700",
	time.RFC3339,
}

// parseDate parses a Date header leniently; the zero time if it cannot.
func parseDate(v string) time.Time {
	v = strings.Join(strings.Fields(cleanText(v)), " ")
	if v == "" {
		return time.Time{}
	}
	if t, err := mail.ParseDate(v); err == nil {
		return sane(t)
	}
	// Drop a trailing comment such as "(PDT)" and a leading "Date:".
	if i := strings.IndexByte(v, '('); i > 0 {
		v = strings.TrimSpace(v[:i])
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return sane(t)
		}
	}
	return time.Time{}
}

func sane(t time.Time) time.Time {
	if t.Year() < 1900 || t.Year() > 3000 {
		return time.Time{}
	}
	return t
}
