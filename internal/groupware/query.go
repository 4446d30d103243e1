package groupware

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// ErrInvalidFilter: a query the core cannot evaluate (RFC 4791
// valid-filter, supported-collation).
var ErrInvalidFilter = errs.Sentinel(errs.Forbidden, "InvalidFilter")

// CompFilter is a CALDAV:comp-filter (RFC 4791 §9.7.1).
type CompFilter struct {
	Name         string
	IsNotDefined bool
	TimeRange    *TimeRange
	Props        []PropFilter
	Comps        []CompFilter
}

// PropFilter is a CALDAV:prop-filter or CARDDAV:prop-filter.
type PropFilter struct {
	Name         string
	IsNotDefined bool
	TimeRange    *TimeRange  // CalDAV only
	TextMatches  []TextMatch // CalDAV: at most one
	Params       []ParamFilter
	AllOf        bool // CardDAV test="allof" (default anyof)
}

// ParamFilter is a param-filter.
type ParamFilter struct {
	Name         string
	IsNotDefined bool
	TextMatch    *TextMatch
}

// TextMatch is a text-match.
type TextMatch struct {
	Text      string
	Collation string // i;ascii-casemap (default), i;octet, i;unicode-casemap
	MatchType string // CardDAV: equals, contains (default), starts-with, ends-with
	Negate    bool
}

// CardFilter is a CARDDAV:filter (RFC 6352 §10.5).
type CardFilter struct {
	AllOf bool // test="allof" (default anyof)
	Props []PropFilter
}

// checkCollation refuses collations the core does not implement.
func (m TextMatch) check() error {
	switch m.Collation {
	case "", "i;ascii-casemap", "i;octet", "i;unicode-casemap":
	default:
		return ErrInvalidFilter.Newf("collation %q is not supported", m.Collation).WithObject(m.Collation).
			WithHint("use i;ascii-casemap, i;unicode-casemap or i;octet")
	}
	switch m.MatchType {
	case "", "equals", "contains", "starts-with", "ends-with":
		return nil
	}
	return ErrInvalidFilter.Newf("match-type %q is not supported", m.MatchType).WithHint("use equals, contains, starts-with or ends-with")
}

func (m TextMatch) matches(value string) bool {
	a, b := value, m.Text
	switch m.Collation {
	case "i;octet":
	case "i;unicode-casemap":
		a, b = strings.ToLower(a), strings.ToLower(b)
	default:
		a, b = asciiLower(a), asciiLower(b)
	}
	var ok bool
	switch m.MatchType {
	case "equals":
		ok = a == b
	case "starts-with":
		ok = strings.HasPrefix(a, b)
	case "ends-with":
		ok = strings.HasSuffix(a, b)
	default:
		ok = strings.Contains(a, b)
	}
	return ok != m.Negate
}

func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 32
		}
		return r
	}, s)
}

// Match is an object a query selected.
type Match struct {
	Object
	Data []byte // its bytes, exactly as stored
}

// CalendarQuery returns the objects of a calendar that match a filter
// (RFC 4791 §7.8); time ranges match any instance of a recurring object.
// floating is the zone of floating times (nil: UTC). Objects that cannot be
// evaluated (a broken RRULE) do not match.
func (s *Service) CalendarQuery(ctx context.Context, a *Account, c *Collection, f CompFilter, floating *time.Location) ([]Match, error) {
	if f.Name != ical.CompCalendar {
		return nil, ErrInvalidFilter.Newf("a calendar query filters VCALENDAR, not %q", f.Name).WithHint("start the filter with <comp-filter name=\"VCALENDAR\">")
	}
	if err := checkCompFilter(f); err != nil {
		return nil, err
	}
	return s.scan(ctx, a, c, func(p *parsed) bool {
		z := newZones(p.cal, floating)
		ok, err := z.matchComp(f, p.cal.Component, nil)
		return err == nil && ok
	})
}

// scan reads and parses every object of a collection and keeps those keep
// accepts.
func (s *Service) scan(ctx context.Context, a *Account, c *Collection, keep func(p *parsed) bool) ([]Match, error) {
	objs, err := s.ListObjects(ctx, a, c)
	if err != nil {
		return nil, err
	}
	var out []Match
	for i := range objs {
		data, err := s.ReadObject(ctx, a, &objs[i])
		if err != nil {
			return nil, err
		}
		var p *parsed
		if c.Kind == KindAddressBook {
			p, err = validateCard(objs[i].Name, data)
		} else {
			var cal *ical.Calendar
			if cal, err = decodeCalendar(data); err == nil {
				p = &parsed{cal: cal}
			}
		}
		if err != nil {
			continue // stored before a rule changed: it matches nothing
		}
		if keep(p) {
			out = append(out, Match{Object: objs[i], Data: data})
		}
	}
	return out, nil
}

func checkCompFilter(f CompFilter) error {
	for _, p := range f.Props {
		for _, m := range p.TextMatches {
			if err := m.check(); err != nil {
				return err
			}
		}
		for _, pf := range p.Params {
			if pf.TextMatch != nil {
				if err := pf.TextMatch.check(); err != nil {
					return err
				}
			}
		}
	}
	for _, c := range f.Comps {
		if err := checkCompFilter(c); err != nil {
			return err
		}
	}
	return nil
}

// matchComp evaluates the filter f on component c (whose name matched);
// the time range of f was applied by the caller when insts is not nil.
func (z *zones) matchComp(f CompFilter, c *ical.Component, _ []instance) (bool, error) {
	for _, pf := range f.Props {
		if ok, err := z.matchProp(pf, c); err != nil || !ok {
			return false, err
		}
	}
	for _, cf := range f.Comps {
		if ok, err := z.matchChild(cf, c); err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// matchChild evaluates a comp-filter against the children of parent.
func (z *zones) matchChild(f CompFilter, parent *ical.Component) (bool, error) {
	var cands []*ical.Component
	for _, ch := range parent.Children {
		if ch.Name == f.Name {
			cands = append(cands, ch)
		}
	}
	if f.IsNotDefined {
		return len(cands) == 0, nil
	}
	if len(cands) == 0 {
		return false, nil
	}
	if f.TimeRange != nil {
		var err error
		if cands, err = z.inRange(f, parent, cands); err != nil {
			return false, err
		}
	}
	for _, c := range cands {
		ok, err := z.matchComp(f, c, nil)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// inRange keeps the candidates with an instance in the filter's time range.
func (z *zones) inRange(f CompFilter, parent *ical.Component, cands []*ical.Component) ([]*ical.Component, error) {
	tr := *f.TimeRange
	var out []*ical.Component
	switch f.Name {
	case ical.CompEvent, ical.CompToDo, ical.CompJournal:
		if parent.Name != ical.CompCalendar {
			return nil, nil
		}
		insts, err := z.expand(f.Name, tr)
		if err != nil {
			return nil, err
		}
		for _, in := range insts {
			if !slices.Contains(out, in.comp) {
				out = append(out, in.comp)
			}
		}
	case ical.CompAlarm:
		for _, c := range cands {
			if t, ok := z.alarmTime(c, parent); ok && tr.contains(t) {
				out = append(out, c)
			}
		}
	default: // VFREEBUSY, VTIMEZONE: their own DTSTART/DTEND
		for _, c := range cands {
			if s, e, ok, _, err := z.span(c); err == nil && ok && tr.overlaps(s, e) {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// alarmTime returns when an alarm of a (non-expanded) component triggers.
func (z *zones) alarmTime(alarm, parent *ical.Component) (time.Time, bool) {
	tp := alarm.Props.Get(ical.PropTrigger)
	if tp == nil {
		return time.Time{}, false
	}
	if tp.Params.Get(ical.ParamValue) == string(ical.ValueDateTime) {
		t, _, err := z.propTime(tp)
		return t, err == nil
	}
	d, err := tp.Duration()
	if err != nil {
		return time.Time{}, false
	}
	s, e, ok, _, err := z.span(parent)
	if err != nil || !ok {
		return time.Time{}, false
	}
	if tp.Params.Get(ical.ParamRelated) == "END" {
		return e.Add(d), true
	}
	return s.Add(d), true
}

// matchProp evaluates a prop-filter on a component.
func (z *zones) matchProp(f PropFilter, c *ical.Component) (bool, error) {
	props := c.Props.Values(strings.ToUpper(f.Name))
	if f.IsNotDefined {
		return len(props) == 0, nil
	}
	for i := range props {
		p := &props[i]
		ok := true
		for _, pf := range f.Params {
			ok = ok && matchParam(pf, p.Params.Values(strings.ToUpper(pf.Name)))
		}
		if ok && f.TimeRange != nil {
			t, _, err := z.propTime(p)
			ok = err == nil && f.TimeRange.contains(t)
		}
		for _, m := range f.TextMatches {
			v := p.Value
			if p.ValueType() == ical.ValueText || p.ValueType() == ical.ValueDefault {
				if txt, err := p.Text(); err == nil {
					v = txt
				}
			}
			ok = ok && m.matches(v)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

func matchParam(f ParamFilter, values []string) bool {
	if f.IsNotDefined {
		return len(values) == 0
	}
	if len(values) == 0 {
		return false
	}
	if f.TextMatch == nil {
		return true
	}
	for _, v := range values {
		if f.TextMatch.matches(v) {
			return true
		}
	}
	return false
}

// AddressBookQuery returns the contacts of an address book that match a
// filter (RFC 6352 §8.6).
func (s *Service) AddressBookQuery(ctx context.Context, a *Account, c *Collection, f CardFilter) ([]Match, error) {
	for _, p := range f.Props {
		if err := checkCompFilter(CompFilter{Props: []PropFilter{p}}); err != nil {
			return nil, err
		}
	}
	return s.scan(ctx, a, c, func(p *parsed) bool { return matchCard(f, p.card) })
}

func matchCard(f CardFilter, card vcard.Card) bool {
	if len(f.Props) == 0 {
		return true
	}
	for _, pf := range f.Props {
		ok := matchCardProp(pf, card[strings.ToUpper(pf.Name)])
		if f.AllOf && !ok {
			return false
		}
		if !f.AllOf && ok {
			return true
		}
	}
	return f.AllOf
}

func matchCardProp(f PropFilter, fields []*vcard.Field) bool {
	if f.IsNotDefined {
		return len(fields) == 0
	}
	if len(fields) == 0 {
		return false
	}
	tests := len(f.TextMatches) + len(f.Params)
	if tests == 0 {
		return true
	}
	for _, fl := range fields {
		passed := 0
		for _, m := range f.TextMatches {
			if m.matches(fl.Value) {
				passed++
			}
		}
		for _, pf := range f.Params {
			if matchParam(pf, fl.Params[strings.ToUpper(pf.Name)]) {
				passed++
			}
		}
		if (f.AllOf && passed == tests) || (!f.AllOf && passed > 0) {
			return true
		}
	}
	return false
}

// FreeBusy answers a free-busy-query (RFC 4791 §7.10) on a calendar: the
// busy periods of its events in the range (cancelled and transparent ones
// left out, tentative ones as BUSY-TENTATIVE) and the periods of its
// VFREEBUSY objects, as an iCalendar VFREEBUSY object.
func (s *Service) FreeBusy(ctx context.Context, a *Account, c *Collection, tr TimeRange) ([]byte, error) {
	if err := checkFreeBusyRange(tr); err != nil {
		return nil, err
	}
	periods := map[string][][2]time.Time{}
	if err := s.busy(ctx, a, c, tr, periods); err != nil {
		return nil, err
	}
	return formatFreeBusy(tr, periods), nil
}

// AccountFreeBusy is FreeBusy over every calendar of the account that holds
// events (task lists left out): the free/busy times of a person, as a
// scheduling assistant asks for them.
func (s *Service) AccountFreeBusy(ctx context.Context, a *Account, tr TimeRange) ([]byte, error) {
	if err := checkFreeBusyRange(tr); err != nil {
		return nil, err
	}
	cols, err := s.Collections(ctx, a, KindCalendar)
	if err != nil {
		return nil, err
	}
	periods := map[string][][2]time.Time{}
	for i := range cols {
		if !cols[i].Supports(CompEvent) {
			continue
		}
		if err := s.busy(ctx, a, &cols[i], tr, periods); err != nil {
			return nil, err
		}
	}
	return formatFreeBusy(tr, periods), nil
}

// checkFreeBusyRange requires a range with a start before its end.
func checkFreeBusyRange(tr TimeRange) error {
	if tr.Start.IsZero() || tr.End.IsZero() || !tr.End.After(tr.Start) {
		return ErrInvalidFilter.Newf("a free-busy query needs a time range with a start before its end").
			WithHint("send <C:time-range start=\"...Z\" end=\"...Z\"/>")
	}
	return nil
}

// busy adds the busy periods of a calendar's objects in tr to periods.
func (s *Service) busy(ctx context.Context, a *Account, c *Collection, tr TimeRange, periods map[string][][2]time.Time) error {
	_, err := s.scan(ctx, a, c, func(p *parsed) bool {
		z := newZones(p.cal, nil)
		insts, err := z.expand(ical.CompEvent, tr)
		if err != nil {
			return false
		}
		for _, in := range insts {
			st, _ := in.comp.Props.Text(ical.PropStatus)
			tp, _ := in.comp.Props.Text(ical.PropTransparency)
			if strings.EqualFold(st, "CANCELLED") || strings.EqualFold(tp, "TRANSPARENT") || !in.end.After(in.start) {
				continue
			}
			typ := "BUSY"
			if strings.EqualFold(st, "TENTATIVE") {
				typ = "BUSY-TENTATIVE"
			}
			periods[typ] = append(periods[typ], clip(in.start, in.end, tr))
		}
		z.freeBusyPeriods(tr, periods)
		return false
	})
	return err
}

// formatFreeBusy writes periods as a VFREEBUSY object for tr.
func formatFreeBusy(tr TimeRange, periods map[string][][2]time.Time) []byte {
	var b strings.Builder
	const utc = "20060102T150405Z"
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tenantferry//CalDAV//EN\r\nBEGIN:VFREEBUSY\r\n")
	fmt.Fprintf(&b, "DTSTAMP:%s\r\nDTSTART:%s\r\nDTEND:%s\r\n", time.Now().UTC().Format(utc), tr.Start.UTC().Format(utc), tr.End.UTC().Format(utc))
	types := make([]string, 0, len(periods))
	for t := range periods {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, typ := range types {
		for _, p := range merge(periods[typ]) {
			fmt.Fprintf(&b, "FREEBUSY;FBTYPE=%s:%s/%s\r\n", typ, p[0].UTC().Format(utc), p[1].UTC().Format(utc))
		}
	}
	b.WriteString("END:VFREEBUSY\r\nEND:VCALENDAR\r\n")
	return []byte(b.String())
}

// freeBusyPeriods adds the FREEBUSY periods of the object's VFREEBUSY
// components that overlap tr.
func (z *zones) freeBusyPeriods(tr TimeRange, periods map[string][][2]time.Time) {
	for _, c := range z.cal.Children {
		if c.Name != ical.CompFreeBusy {
			continue
		}
		for _, p := range c.Props.Values(ical.PropFreeBusy) {
			typ := strings.ToUpper(p.Params.Get(ical.ParamFreeBusyType))
			if typ == "" {
				typ = "BUSY"
			}
			if typ == "FREE" {
				continue
			}
			starts, ends, err := z.propTimes(&p)
			if err != nil {
				continue
			}
			for i := range starts {
				if !ends[i].IsZero() && tr.overlaps(starts[i], ends[i]) {
					periods[typ] = append(periods[typ], clip(starts[i], ends[i], tr))
				}
			}
		}
	}
}

func clip(s, e time.Time, tr TimeRange) [2]time.Time {
	if s.Before(tr.Start) {
		s = tr.Start
	}
	if e.After(tr.End) {
		e = tr.End
	}
	return [2]time.Time{s, e}
}

// merge sorts periods and joins overlapping ones.
func merge(ps [][2]time.Time) [][2]time.Time {
	sort.Slice(ps, func(i, j int) bool { return ps[i][0].Before(ps[j][0]) })
	var out [][2]time.Time
	for _, p := range ps {
		if n := len(out); n > 0 && !p[0].After(out[n-1][1]) {
			if p[1].After(out[n-1][1]) {
				out[n-1][1] = p[1]
			}
			continue
		}
		out = append(out, p)
	}
	return out
}
