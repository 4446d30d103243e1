package groupware

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// Errors of object validation. Each refusal names the object and what is
// wrong with it; nothing is written.
var (
	// ErrInvalidCalendarData: not an iCalendar object at all (RFC 4791
	// valid-calendar-data).
	ErrInvalidCalendarData = errs.Sentinel(errs.Invalid, "InvalidCalendarData")
	// ErrInvalidCalendarObject: iCalendar, but not a valid calendar object
	// resource: METHOD, several component types, several UIDs, no UID
	// (RFC 4791 valid-calendar-object-resource).
	ErrInvalidCalendarObject = errs.Sentinel(errs.Invalid, "InvalidCalendarObject")
	// ErrUnsupportedComponent: the calendar does not take this component
	// type (RFC 4791 supported-calendar-component).
	ErrUnsupportedComponent = errs.Sentinel(errs.Forbidden, "UnsupportedCalendarComponent")
	// ErrInvalidContactData: not one valid vCard (RFC 6352
	// valid-address-data).
	ErrInvalidContactData = errs.Sentinel(errs.Invalid, "InvalidContactData")
	// ErrObjectTooLarge: the object exceeds the size limit (RFC 4791 /
	// RFC 6352 max-resource-size).
	ErrObjectTooLarge = errs.Sentinel(errs.TooLarge, "ObjectTooLarge")
)

// parsed is what validation learns about an object.
type parsed struct {
	uid     string // the object's UID
	comp    string // VEVENT, VTODO, VJOURNAL, VFREEBUSY; "VCARD" for contacts
	summary string // SUMMARY or FN, for listings
	cal     *ical.Calendar
	card    vcard.Card
}

// checkText refuses bytes that cannot be an iCalendar or vCard text (nor
// travel inside an XML report): invalid UTF-8 and control characters
// other than tab, CR and LF.
func checkText(data []byte, what string, sentinel *errs.Error) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return sentinel.Newf("the %s is empty", what).WithHint("send the %s in the request body", what)
	}
	if !utf8.Valid(data) {
		return sentinel.Newf("the %s is not valid UTF-8", what).WithHint("send the %s encoded as UTF-8", what)
	}
	for i, c := range data {
		if (c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f {
			return sentinel.Newf("the %s contains the control character 0x%02x at byte %d", what, c, i).
				WithHint("remove control characters; text values escape line breaks as \\n")
		}
	}
	return nil
}

// decodeCalendar parses exactly one iCalendar object (go-ical panics on
// some malformed lines: that is a refusal too).
func decodeCalendar(data []byte) (cal *ical.Calendar, err error) {
	defer func() {
		if r := recover(); r != nil {
			cal, err = nil, fmt.Errorf("malformed content line (%v)", r)
		}
	}()
	dec := ical.NewDecoder(bytes.NewReader(data))
	if cal, err = dec.Decode(); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("the object ends before END:VCALENDAR")
		}
		return nil, err
	}
	if _, err := dec.Decode(); err != io.EOF {
		return nil, fmt.Errorf("more than one VCALENDAR, or text after END:VCALENDAR")
	}
	return cal, nil
}

// validateCalendar checks a calendar object resource for collection c
// (RFC 4791 §4.1, §5.3.2.1).
func validateCalendar(c *Collection, name string, data []byte) (*parsed, error) {
	if err := checkText(data, "calendar object "+name, ErrInvalidCalendarData); err != nil {
		return nil, err
	}
	cal, err := decodeCalendar(data)
	if err != nil {
		return nil, ErrInvalidCalendarData.Newf("calendar object %s is not iCalendar: %v", name, err).WithObject(name).
			WithHint("send one iCalendar object (RFC 5545): BEGIN:VCALENDAR ... END:VCALENDAR")
	}
	bad := func(format string, args ...any) error {
		return ErrInvalidCalendarObject.Newf("calendar object %s: "+format, append([]any{name}, args...)...).WithObject(name).
			WithHint("store one event, task or journal entry per resource (with its overridden instances and time zones), one UID, no METHOD")
	}
	if cal.Props.Get(ical.PropMethod) != nil {
		return nil, bad("it has a METHOD property (scheduling messages are not calendar objects)")
	}
	p := &parsed{cal: cal}
	for _, ch := range cal.Children {
		if ch.Name == ical.CompTimezone {
			continue
		}
		switch ch.Name {
		case ical.CompEvent, ical.CompToDo, ical.CompJournal, ical.CompFreeBusy:
		default:
			return nil, bad("component %s is not an event, task, journal entry or free-busy", ch.Name)
		}
		if p.comp == "" {
			p.comp = ch.Name
		} else if p.comp != ch.Name {
			return nil, bad("it mixes %s and %s components", p.comp, ch.Name)
		}
		uid := ""
		if pr := ch.Props.Get(ical.PropUID); pr != nil {
			uid = strings.TrimSpace(pr.Value)
		}
		if uid == "" {
			return nil, bad("a %s has no UID", ch.Name)
		}
		if p.uid == "" {
			p.uid = uid
		} else if p.uid != uid {
			return nil, bad("it mixes the UIDs %q and %q", p.uid, uid)
		}
		if p.summary == "" && ch.Props.Get(ical.PropRecurrenceID) == nil {
			if s, err := ch.Props.Text(ical.PropSummary); err == nil {
				p.summary = s
			}
		}
	}
	if p.comp == "" {
		return nil, bad("it has no event, task or journal entry")
	}
	if !c.Supports(p.comp) {
		return nil, ErrUnsupportedComponent.Newf("%s %q does not take %s components (it takes %s)", c.Kind, c.Name, p.comp,
			strings.Join(c.Components(), ", ")).WithObject(name).
			WithHint("store it in a calendar that supports %s (tasks go to a task list such as Tasks)", p.comp)
	}
	return p, nil
}

// decodeCard parses exactly one vCard.
func decodeCard(data []byte) (card vcard.Card, err error) {
	defer func() {
		if r := recover(); r != nil {
			card, err = nil, fmt.Errorf("malformed line (%v)", r)
		}
	}()
	dec := vcard.NewDecoder(bytes.NewReader(data))
	if card, err = dec.Decode(); err != nil {
		if err == io.EOF {
			err = fmt.Errorf("no BEGIN:VCARD")
		}
		return nil, err
	}
	if _, err := dec.Decode(); err != io.EOF {
		return nil, fmt.Errorf("more than one vCard, or text after END:VCARD")
	}
	return card, nil
}

// contactKeyPrefix makes the object key of a vCard without UID (vCard 3.0
// allows that) from its resource name.
const contactKeyPrefix = "urn:x-tenantferry:name:"

// validateCard checks an address object resource (RFC 6352 §5.1).
func validateCard(name string, data []byte) (*parsed, error) {
	if err := checkText(data, "contact "+name, ErrInvalidContactData); err != nil {
		return nil, err
	}
	card, err := decodeCard(data)
	if err != nil {
		return nil, ErrInvalidContactData.Newf("contact %s is not a vCard: %v", name, err).WithObject(name).
			WithHint("send one vCard (RFC 6350 or RFC 2426): BEGIN:VCARD ... END:VCARD")
	}
	switch v := card.Value(vcard.FieldVersion); v {
	case "3.0", "4.0":
	default:
		return nil, ErrInvalidContactData.Newf("contact %s has vCard version %q", name, v).WithObject(name).
			WithHint("send a vCard 3.0 or 4.0 (VERSION:3.0 or VERSION:4.0)")
	}
	p := &parsed{comp: "VCARD", card: card, uid: strings.TrimSpace(card.Value(vcard.FieldUID)), summary: card.Value(vcard.FieldFormattedName)}
	if p.uid == "" {
		p.uid = contactKeyPrefix + name
	}
	return p, nil
}

// validate checks an object for a collection.
func (s *Service) validate(c *Collection, name string, data []byte) (*parsed, error) {
	if int64(len(data)) > s.MaxSize() {
		return nil, ErrObjectTooLarge.Newf("object %s has %d bytes, more than the limit of %d", name, len(data), s.MaxSize()).WithObject(name).
			WithHint("store smaller objects (shrink attachments or photos)")
	}
	if c.Kind == KindAddressBook {
		return validateCard(name, data)
	}
	return validateCalendar(c, name, data)
}
