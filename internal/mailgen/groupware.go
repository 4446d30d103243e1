package mailgen

import (
	"fmt"
	"math/rand"
	"strings"
	"time"
)

// GroupwareOptions describes generated calendars, task lists and address
// books for one mailbox.
type GroupwareOptions struct {
	Seed     int64
	Owner    string // the mailbox's address (organizer of its meetings)
	Events   int    // VEVENTs in Calendar: one in five recurring, with an exception
	Tasks    int    // VTODOs in Tasks
	Contacts int    // vCards in Contacts, 3.0 and 4.0 alternating
}

// GroupwareObject is one generated object: the default collection it
// belongs in (Calendar, Tasks or Contacts), its resource name and bytes.
type GroupwareObject struct {
	Collection string
	Name       string
	Data       []byte
}

// vtimezone is the time zone the generated events and tasks use.
const vtimezone = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n" +
	"DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\n" +
	"TZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"

var eventTopics = []string{"Projektbesprechung", "Réunion budget", "週次ミーティング", "Quarterly review", "Kundentermin – Müller GmbH",
	"Café avec l'équipe", "Sprint planning", "Zahnarzt"}

// Groupware generates deterministic, valid calendar, task and contact
// objects (RFC 5545 with VTIMEZONE, attendees, alarms, recurring series
// with an overridden instance; vCard 3.0 and 4.0), non-ASCII throughout.
// The same options give the same bytes.
func Groupware(o GroupwareOptions) []GroupwareObject {
	r := rand.New(rand.NewSource(o.Seed))
	domain := o.Owner[strings.LastIndexByte(o.Owner, '@')+1:]
	base := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	var out []GroupwareObject
	for i := 0; i < o.Events; i++ {
		uid := fmt.Sprintf("ev-%d-%d@%s", o.Seed, i, domain)
		start := base.Add(time.Duration(r.Intn(180*24)) * time.Hour).Truncate(30 * time.Minute)
		out = append(out, GroupwareObject{Collection: "Calendar", Name: fmt.Sprintf("ev-%d.ics", i), Data: event(r, o.Owner, uid, start, i%5 == 0)})
	}
	for i := 0; i < o.Tasks; i++ {
		due := base.Add(time.Duration(r.Intn(90)) * 24 * time.Hour)
		var b strings.Builder
		b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tenantferry//mailgen//EN\r\n" + vtimezone)
		fmt.Fprintf(&b, "BEGIN:VTODO\r\nUID:todo-%d-%d@%s\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Aufgabe %d – %s\r\n", o.Seed, i, domain, i,
			eventTopics[r.Intn(len(eventTopics))])
		fmt.Fprintf(&b, "DUE;TZID=Europe/Berlin:%s\r\nPRIORITY:%d\r\nSTATUS:NEEDS-ACTION\r\nEND:VTODO\r\nEND:VCALENDAR\r\n", due.Format("20060102T150405"), 1+r.Intn(9))
		out = append(out, GroupwareObject{Collection: "Tasks", Name: fmt.Sprintf("todo-%d.ics", i), Data: []byte(b.String())})
	}
	for i := 0; i < o.Contacts; i++ {
		fn, ln := firstNames[r.Intn(len(firstNames))], lastNames[r.Intn(len(lastNames))]
		var b strings.Builder
		if i%2 == 0 {
			fmt.Fprintf(&b, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card-%d-%d@%s\r\nFN:%s %s-Øre\r\nN:%s-Øre;%s;;;\r\n", o.Seed, i, domain, fn, ln, ln, fn)
			fmt.Fprintf(&b, "EMAIL;TYPE=INTERNET:%s.%s%d@example.org\r\nTEL;TYPE=CELL:+49 151 %07d\r\nORG:Müller & Söhne\r\nEND:VCARD\r\n",
				strings.ToLower(fn), strings.ToLower(ln), i, r.Intn(10000000))
		} else {
			fmt.Fprintf(&b, "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:%08x-0000-4000-8000-%012x\r\nFN:%s %s\r\nN:%s;%s;;;\r\nKIND:individual\r\n",
				o.Seed, i, fn, ln, ln, fn)
			fmt.Fprintf(&b, "EMAIL;TYPE=work:%s@%s\r\nNOTE:Notiz – 連絡先 %d\r\nEND:VCARD\r\n", strings.ToLower(fn), domain, i)
		}
		out = append(out, GroupwareObject{Collection: "Contacts", Name: fmt.Sprintf("card-%d.vcf", i), Data: []byte(b.String())})
	}
	return out
}

// event builds one VEVENT object; a recurring one has an overridden
// instance.
func event(r *rand.Rand, owner, uid string, start time.Time, recurring bool) []byte {
	const local = "20060102T150405"
	end := start.Add(time.Duration(1+r.Intn(3)) * 30 * time.Minute)
	topic := eventTopics[r.Intn(len(eventTopics))]
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tenantferry//mailgen//EN\r\n" + vtimezone)
	fmt.Fprintf(&b, "BEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:%s\r\n", uid, topic)
	fmt.Fprintf(&b, "DTSTART;TZID=Europe/Berlin:%s\r\nDTEND;TZID=Europe/Berlin:%s\r\n", start.Format(local), end.Format(local))
	if recurring {
		b.WriteString("RRULE:FREQ=WEEKLY;COUNT=8\r\n")
	}
	fmt.Fprintf(&b, "ORGANIZER;CN=Owner:mailto:%s\r\nATTENDEE;CN=\"Zoë Ørsted\";PARTSTAT=NEEDS-ACTION:mailto:zoe@example.org\r\n", owner)
	b.WriteString("BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Erinnerung\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT\r\n")
	if recurring {
		moved := start.Add(14 * 24 * time.Hour)
		fmt.Fprintf(&b, "BEGIN:VEVENT\r\nUID:%s\r\nRECURRENCE-ID;TZID=Europe/Berlin:%s\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:%s (verschoben)\r\n",
			uid, moved.Format(local), topic)
		fmt.Fprintf(&b, "DTSTART;TZID=Europe/Berlin:%s\r\nDTEND;TZID=Europe/Berlin:%s\r\nSEQUENCE:1\r\nEND:VEVENT\r\n",
			moved.Add(2*time.Hour).Format(local), end.Add(14*24*time.Hour+2*time.Hour).Format(local))
	}
	b.WriteString("END:VCALENDAR\r\n")
	return []byte(b.String())
}
