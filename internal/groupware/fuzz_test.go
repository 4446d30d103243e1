package groupware

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

func seeds(f *testing.F, dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
			f.Add(b)
		}
	}
}

// FuzzCalendarObject feeds arbitrary bytes to validation and, for what
// validates, to recurrence expansion and the free-busy computation: no
// input may panic or run away.
func FuzzCalendarObject(f *testing.F) {
	seeds(f, "../dav/testdata/calendar")
	f.Add([]byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:20260101T000000Z\r\nRRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=31\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"))
	f.Add([]byte("BEGIN:VCALENDAR\r\nX;A=\"b\"c:d\r\nEND:VCALENDAR\r\n"))
	c := &Collection{Kind: KindCalendar, Name: "c", Folder: mailstore.Folder{Class: mailstore.ClassAppointment}}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := validateCalendar(c, "x.ics", data)
		if err != nil {
			return
		}
		z := newZones(p.cal, nil)
		tr := TimeRange{Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
		z.expand(p.comp, tr)
		z.expand(p.comp, TimeRange{})
		f := CompFilter{Name: "VCALENDAR", Comps: []CompFilter{{Name: p.comp, TimeRange: &tr}}}
		z.matchComp(f, p.cal.Component, nil)
	})
}

// FuzzContact feeds arbitrary bytes to vCard validation.
func FuzzContact(f *testing.F) {
	seeds(f, "../dav/testdata/contacts")
	f.Add([]byte("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:x\r\nEND:VCARD\r\nBEGIN:VCARD\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := validateCard("x.vcf", data)
		if err == nil && p.uid == "" {
			t.Fatal("a valid contact without an object key")
		}
	})
}
