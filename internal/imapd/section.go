package imapd

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// wholeMessage reports whether a body section is BODY[] (possibly partial),
// which is served straight from the stored bytes.
func wholeMessage(s *imap.FetchItemBodySection) bool {
	return len(s.Part) == 0 && s.Specifier == imap.PartSpecifierNone && len(s.HeaderFields) == 0 && len(s.HeaderFieldsNot) == 0
}

// partialRange returns the offset and length of a partial range of a
// size-byte message.
func partialRange(size int64, p *imap.SectionPartial) (off, n int64) {
	if p == nil {
		return 0, size
	}
	if p.Offset >= size || p.Offset < 0 {
		return 0, 0
	}
	n = size - p.Offset
	if p.Size >= 0 && p.Size < n {
		n = p.Size
	}
	return p.Offset, n
}

// containsFold reports whether list holds s, ignoring ASCII case.
func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
