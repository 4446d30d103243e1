package groupware

import (
	"fmt"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// go-ical's RecurrenceSet reads EXDATE where it means RDATE, resolves TZIDs
// only through the IANA database and knows nothing of overridden instances;
// this file expands recurrences itself (RFC 5545 §3.8.5, RFC 4791 §9.9).

// TimeRange is a CALDAV:time-range: [Start, End), a zero bound is open.
type TimeRange struct {
	Start, End time.Time
}

// overlaps reports whether an instance [s, e) overlaps the range, with the
// RFC 4791 §9.9 rule for instances of no duration (s = e).
func (tr TimeRange) overlaps(s, e time.Time) bool {
	afterStart := tr.Start.IsZero() || e.After(tr.Start) || (e.Equal(s) && !s.Before(tr.Start))
	beforeEnd := tr.End.IsZero() || s.Before(tr.End)
	return afterStart && beforeEnd
}

// contains reports whether a point in time lies in the range.
func (tr TimeRange) contains(t time.Time) bool {
	return (tr.Start.IsZero() || !t.Before(tr.Start)) && (tr.End.IsZero() || t.Before(tr.End))
}

// instance is one occurrence of a recurring (or single) component.
type instance struct {
	start, end time.Time
	comp       *ical.Component // the master, or the component overriding this occurrence
}

// Expansion limits: a rule is iterated at most this often, and instances
// beyond the horizon are not generated when the range is open-ended.
const (
	maxIterations = 50000
	openHorizon   = 10 * 366 * 24 * time.Hour
)

// span returns a component's start and end (RFC 4791 §9.9): VEVENT
// DTSTART to DTEND or DTSTART+DURATION (one day for a DATE, nothing for a
// DATE-TIME without either); VTODO DTSTART to DUE or DTSTART+DURATION, or
// DUE alone; VJOURNAL DTSTART (one day for a DATE). ok is false when the
// component has no time to match (a VTODO without DTSTART and DUE matches
// every range: always is then set).
func (z *zones) span(c *ical.Component) (s, e time.Time, ok, always bool, err error) {
	start := c.Props.Get(ical.PropDateTimeStart)
	var allDay bool
	if start != nil {
		if s, allDay, err = z.propTime(start); err != nil {
			return
		}
	}
	end := c.Props.Get(ical.PropDateTimeEnd)
	if c.Name == ical.CompToDo {
		end = c.Props.Get(ical.PropDue)
	}
	switch {
	case start == nil && end != nil && c.Name == ical.CompToDo:
		if s, _, err = z.propTime(end); err != nil {
			return
		}
		return s, s, true, false, nil
	case start == nil:
		return s, s, false, c.Name == ical.CompToDo, nil
	case end != nil && c.Name != ical.CompJournal:
		if e, _, err = z.propTime(end); err != nil {
			return
		}
	case c.Props.Get(ical.PropDuration) != nil:
		var d time.Duration
		if d, err = c.Props.Get(ical.PropDuration).Duration(); err != nil {
			return
		}
		e = s.Add(d)
	case allDay && c.Name != ical.CompToDo:
		e = s.AddDate(0, 0, 1)
	default:
		e = s
	}
	if e.Before(s) {
		e = s
	}
	return s, e, true, false, nil
}

// expand returns the instances of the components named compName of a
// calendar object (one UID: a master and overridden instances) that overlap
// tr. Overridden occurrences are replaced by their override; EXDATEs are
// removed; RDATEs added.
func (z *zones) expand(compName string, tr TimeRange) ([]instance, error) {
	var master *ical.Component
	overrides := map[int64]*ical.Component{}
	var out []instance
	for _, c := range z.cal.Children {
		if c.Name != compName {
			continue
		}
		rid := c.Props.Get(ical.PropRecurrenceID)
		if rid == nil {
			if master == nil {
				master = c
			}
			continue
		}
		t, _, err := z.propTime(rid)
		if err != nil {
			return nil, fmt.Errorf("RECURRENCE-ID: %w", err)
		}
		overrides[t.Unix()] = c
		s, e, ok, always, err := z.span(c)
		if err != nil {
			return nil, err
		}
		if always || (ok && tr.overlaps(s, e)) {
			out = append(out, instance{s, e, c})
		}
	}
	if master == nil {
		return out, nil
	}
	s, e, ok, always, err := z.span(master)
	if err != nil {
		return nil, err
	}
	if always {
		return append(out, instance{s, e, master}), nil
	}
	if !ok {
		return out, nil
	}
	starts, ends, err := z.occurrences(master, s, tr, e.Sub(s))
	if err != nil {
		return nil, err
	}
	for i, st := range starts {
		if _, over := overrides[st.Unix()]; over {
			continue
		}
		if tr.overlaps(st, ends[i]) {
			out = append(out, instance{st, ends[i], master})
		}
	}
	return out, nil
}

// occurrences lists a master's occurrence starts (DTSTART, the RRULE,
// RDATEs, minus EXDATEs) that may overlap tr, with their ends.
func (z *zones) occurrences(master *ical.Component, s time.Time, tr TimeRange, dur time.Duration) (starts, ends []time.Time, err error) {
	seen := map[int64]bool{}
	add := func(t, end time.Time) {
		if !seen[t.Unix()] {
			seen[t.Unix()] = true
			if end.IsZero() {
				end = t.Add(dur)
			}
			starts, ends = append(starts, t), append(ends, end)
		}
	}
	add(s, time.Time{})
	limit := tr.End
	if limit.IsZero() {
		limit = time.Now().Add(openHorizon)
		if !tr.Start.IsZero() && tr.Start.After(time.Now()) {
			limit = tr.Start.Add(openHorizon)
		}
	}
	if rr := master.Props.Get(ical.PropRecurrenceRule); rr != nil {
		opt, err := rrule.StrToROptionInLocation(rr.Value, s.Location())
		if err != nil {
			return nil, nil, fmt.Errorf("RRULE: %w", err)
		}
		opt.Dtstart = s
		r, err := rrule.NewRRule(*opt)
		if err != nil {
			return nil, nil, fmt.Errorf("RRULE: %w", err)
		}
		next := r.Iterator()
		for i := 0; i < maxIterations; i++ {
			t, ok := next()
			if !ok || !t.Before(limit) {
				break
			}
			if t.Add(dur).Before(tr.Start) && !tr.Start.IsZero() {
				continue
			}
			add(t, time.Time{})
		}
	}
	for _, p := range master.Props.Values(ical.PropRecurrenceDates) {
		ts, es, err := z.propTimes(&p)
		if err != nil {
			return nil, nil, fmt.Errorf("RDATE: %w", err)
		}
		for i := range ts {
			add(ts[i], es[i])
		}
	}
	ex := map[int64]bool{}
	exDays := map[string]bool{}
	for _, p := range master.Props.Values(ical.PropExceptionDates) {
		ts, _, err := z.propTimes(&p)
		if err != nil {
			return nil, nil, fmt.Errorf("EXDATE: %w", err)
		}
		for _, t := range ts {
			ex[t.Unix()] = true
			if isDate(&p) {
				exDays[t.Format("20060102")] = true
			}
		}
	}
	if len(ex) == 0 {
		return starts, ends, nil
	}
	ks, ke := starts[:0], ends[:0]
	for i, t := range starts {
		if ex[t.Unix()] || exDays[t.Format("20060102")] {
			continue
		}
		ks, ke = append(ks, t), append(ke, ends[i])
	}
	return ks, ke, nil
}
