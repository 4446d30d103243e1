package dav_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/emersion/go-message"

	"github.com/tenantferry/tenantferry/internal/testsupport/corpus"
)

// calendarParts returns the decoded text/calendar parts of a message.
func calendarParts(t *testing.T, raw []byte) [][]byte {
	t.Helper()
	m, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil
	}
	var out [][]byte
	m.Walk(func(_ []int, e *message.Entity, err error) error {
		if err != nil {
			return nil
		}
		if ct, _, _ := e.Header.ContentType(); ct == "text/calendar" {
			if b, err := io.ReadAll(e.Body); err == nil {
				out = append(out, b)
			}
		}
		return nil
	})
	return out
}

var methodLine = regexp.MustCompile(`(?m)^METHOD:[^\r\n]*\r?\n`)

// TestCorpusCalendarParts stores the iCalendar parts of the corpus's iMIP
// messages: as sent (with METHOD) they are scheduling messages, refused
// with a code; without the METHOD line they are calendar objects, stored
// and served byte-exact.
func TestCorpusCalendarParts(t *testing.T) {
	dir := corpus.Dir(t)
	entries, err := corpus.Manifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	g := newRig(t)
	alice := g.asAlice(t)
	cal := "/dav/calendars/" + g.alice + "/Calendar/"
	stored := 0
	for _, e := range entries {
		if !e.Has("calendar") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(e.Path)))
		if err != nil {
			t.Fatal(err)
		}
		for i, part := range calendarParts(t, raw) {
			href := fmt.Sprintf("%scorpus-%d-%d.ics", cal, stored, i)
			if methodLine.Match(part) {
				wantStatus(t, alice("PUT", href, nil, string(part)), http.StatusForbidden, "InvalidCalendarObject")
				part = methodLine.ReplaceAll(part, nil)
			}
			r := alice("PUT", href, nil, string(part))
			if r.status == http.StatusConflict {
				continue // the same event in two messages: one UID per calendar
			}
			wantStatus(t, r, http.StatusCreated, "")
			if got := alice("GET", href, nil, ""); sum(got.body) != sum(part) {
				t.Fatalf("%s: not byte-exact", e.Path)
			}
			stored++
		}
	}
	if stored < 2 {
		t.Fatalf("only %d corpus calendar objects stored", stored)
	}
	t.Logf("%d corpus calendar objects stored byte-exact", stored)
}
