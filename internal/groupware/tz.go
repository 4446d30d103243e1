package groupware

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// zones resolves the TZIDs of one calendar object to locations: the
// object's own VTIMEZONE definitions first (RFC 5545 §3.6.5: they are
// authoritative, and Outlook's "W. Europe Standard Time" is no IANA name),
// then the system's IANA database, else the floating zone.
type zones struct {
	cal      *ical.Calendar
	floating *time.Location // for floating times and dates (UTC unless the query says)
	cache    map[string]*time.Location
}

func newZones(cal *ical.Calendar, floating *time.Location) *zones {
	if floating == nil {
		floating = time.UTC
	}
	return &zones{cal: cal, floating: floating, cache: map[string]*time.Location{}}
}

// location returns the location of a TZID.
func (z *zones) location(tzid string) *time.Location {
	if loc, ok := z.cache[tzid]; ok {
		return loc
	}
	loc := z.floating
	found := false
	for _, ch := range z.cal.Children {
		if ch.Name != ical.CompTimezone {
			continue
		}
		if id, _ := ch.Props.Text(ical.PropTimezoneID); id == tzid {
			if l, err := cachedVTimezone(tzid, ch); err == nil {
				loc, found = l, true
			}
			break
		}
	}
	if !found {
		// "/mozilla.org/20050126_1/Europe/Berlin" style ids end in an
		// IANA name.
		parts := strings.Split(strings.Trim(tzid, "/"), "/")
		for i := range parts {
			if l, err := time.LoadLocation(strings.Join(parts[i:], "/")); err == nil && parts[i] != "" {
				loc = l
				break
			}
		}
	}
	z.cache[tzid] = loc
	return loc
}

// ZoneOf returns the zone a CALDAV:timezone or calendar-timezone value
// (a VCALENDAR with one VTIMEZONE) defines, or nil.
func ZoneOf(text []byte) *time.Location {
	cal, err := decodeCalendar(text)
	if err != nil {
		return nil
	}
	for _, ch := range cal.Children {
		if ch.Name != ical.CompTimezone {
			continue
		}
		id, _ := ch.Props.Text(ical.PropTimezoneID)
		if loc, err := vtimezoneLocation(id, ch); err == nil {
			return loc
		}
		if loc, err := time.LoadLocation(id); err == nil {
			return loc
		}
	}
	return nil
}

// isDate reports whether a DTSTART-like property holds a DATE.
func isDate(p *ical.Prop) bool {
	return p.Params.Get(ical.ParamValue) == string(ical.ValueDate) || (len(p.Value) == 8 && p.Params.Get(ical.ParamValue) == "")
}

// parseTimeValue parses one DATE or DATE-TIME value of a property.
func (z *zones) parseTimeValue(p *ical.Prop, v string) (time.Time, bool, error) {
	v = strings.TrimSpace(v)
	if p.Params.Get(ical.ParamValue) == string(ical.ValueDate) || len(v) == 8 {
		t, err := time.ParseInLocation("20060102", v, z.floating)
		return t, true, err
	}
	if strings.HasSuffix(v, "Z") {
		t, err := time.ParseInLocation("20060102T150405Z", v, time.UTC)
		return t, false, err
	}
	loc := z.floating
	if tzid := p.Params.Get(ical.PropTimezoneID); tzid != "" {
		loc = z.location(tzid)
	}
	t, err := time.ParseInLocation("20060102T150405", v, loc)
	return t, false, err
}

// propTime parses a single-valued DATE or DATE-TIME property.
func (z *zones) propTime(p *ical.Prop) (time.Time, bool, error) {
	return z.parseTimeValue(p, p.Value)
}

// propTimes parses a multi-valued DATE, DATE-TIME or PERIOD property
// (RDATE, EXDATE): the start of each value and, for a period, its end.
func (z *zones) propTimes(p *ical.Prop) (starts, ends []time.Time, err error) {
	for _, v := range strings.Split(p.Value, ",") {
		s, e, isPeriod := strings.Cut(v, "/")
		t, _, err := z.parseTimeValue(p, s)
		if err != nil {
			return nil, nil, err
		}
		var end time.Time
		if isPeriod {
			if strings.HasPrefix(e, "P") || strings.HasPrefix(e, "+P") || strings.HasPrefix(e, "-P") {
				d, err := (&ical.Prop{Value: e}).Duration()
				if err != nil {
					return nil, nil, err
				}
				end = t.Add(d)
			} else if end, _, err = z.parseTimeValue(p, e); err != nil {
				return nil, nil, err
			}
		}
		starts, ends = append(starts, t), append(ends, end)
	}
	return starts, ends, nil
}

// vtzCache keeps the locations built from VTIMEZONE definitions, keyed by
// their content: most objects of a calendar repeat the same few.
var vtzCache struct {
	sync.Mutex
	m map[string]*time.Location
}

// vtzCacheMax bounds the cache; it starts over when full.
const vtzCacheMax = 1024

func cachedVTimezone(tzid string, vtz *ical.Component) (*time.Location, error) {
	var key strings.Builder
	componentKey(&key, vtz)
	k := key.String()
	vtzCache.Lock()
	loc, ok := vtzCache.m[k]
	vtzCache.Unlock()
	if ok {
		return loc, nil
	}
	loc, err := vtimezoneLocation(tzid, vtz)
	if err != nil {
		return nil, err
	}
	vtzCache.Lock()
	if vtzCache.m == nil || len(vtzCache.m) >= vtzCacheMax {
		vtzCache.m = map[string]*time.Location{}
	}
	vtzCache.m[k] = loc
	vtzCache.Unlock()
	return loc, nil
}

// componentKey writes a canonical rendering of a component (name, sorted
// properties with their parameters, children).
func componentKey(b *strings.Builder, c *ical.Component) {
	b.WriteString("BEGIN:" + c.Name + "\n")
	names := make([]string, 0, len(c.Props))
	for n := range c.Props {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, p := range c.Props[n] {
			params := make([]string, 0, len(p.Params))
			for pn, vs := range p.Params {
				params = append(params, pn+"="+strings.Join(vs, ","))
			}
			sort.Strings(params)
			fmt.Fprintf(b, "%s;%s:%s\n", n, strings.Join(params, ";"), p.Value)
		}
	}
	for _, ch := range c.Children {
		componentKey(b, ch)
	}
	b.WriteString("END:" + c.Name + "\n")
}

// transition is one onset of a VTIMEZONE observance.
type transition struct {
	at     int64 // unix seconds of the onset
	offset int   // UTC offset from then on, seconds
	dst    bool
	name   string
}

// tzHorizon is the last year onsets of a recurring observance are expanded
// to; later times keep the last offset.
const tzHorizon = 2100

// tzEpoch is the first year onsets of an older recurring observance are
// expanded from.
const tzEpoch = 1970

// vtimezoneLocation builds a time.Location from a VTIMEZONE component by
// expanding its STANDARD and DAYLIGHT observances into transitions.
func vtimezoneLocation(tzid string, vtz *ical.Component) (*time.Location, error) {
	var ts []transition
	var first *transition
	for _, obs := range vtz.Children {
		if obs.Name != ical.CompTimezoneStandard && obs.Name != ical.CompTimezoneDaylight {
			continue
		}
		from, err1 := parseUTCOffset(obs.Props.Get(ical.PropTimezoneOffsetFrom))
		to, err2 := parseUTCOffset(obs.Props.Get(ical.PropTimezoneOffsetTo))
		start := obs.Props.Get(ical.PropDateTimeStart)
		if err1 != nil || err2 != nil || start == nil {
			return nil, fmt.Errorf("observance without offsets or DTSTART")
		}
		// Onsets are local wall times in the offset before the onset;
		// expand them as if they were UTC, then shift.
		wall, err := time.ParseInLocation("20060102T150405", strings.TrimSuffix(start.Value, "Z"), time.UTC)
		if err != nil {
			return nil, err
		}
		onsets := []time.Time{wall}
		if rr := obs.Props.Get(ical.PropRecurrenceRule); rr != nil {
			opt, err := rrule.StrToROptionInLocation(rr.Value, time.UTC)
			if err != nil {
				return nil, err
			}
			opt.Dtstart = wall
			if wall.Year() < tzEpoch && opt.Count == 0 && (opt.Until.IsZero() || opt.Until.Year() >= tzEpoch) {
				// rrule-go stops 292 years after DTSTART (a Duration
				// overflows), and Outlook starts observances in 1601:
				// expand from the epoch instead.
				opt.Dtstart = time.Date(tzEpoch, wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), 0, time.UTC)
			}
			r, err := rrule.NewRRule(*opt)
			if err != nil {
				return nil, err
			}
			next := r.Iterator()
			for i := 0; i < 1000; i++ {
				t, ok := next()
				if !ok || t.Year() > tzHorizon {
					break
				}
				onsets = append(onsets, t)
			}
		}
		for _, rd := range obs.Props.Values(ical.PropRecurrenceDates) {
			for _, v := range strings.Split(rd.Value, ",") {
				if t, err := time.ParseInLocation("20060102T150405", strings.TrimSuffix(strings.TrimSpace(v), "Z"), time.UTC); err == nil {
					onsets = append(onsets, t)
				}
			}
		}
		name, _ := obs.Props.Text(ical.PropTimezoneName)
		for _, o := range onsets {
			t := transition{at: o.Unix() - int64(from), offset: to, dst: obs.Name == ical.CompTimezoneDaylight, name: name}
			ts = append(ts, t)
			if first == nil || t.at < first.at {
				f := t
				f.offset, f.dst = from, false
				first = &f
			}
		}
	}
	if first == nil {
		return nil, fmt.Errorf("VTIMEZONE %s has no observance", tzid)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].at < ts[j].at })
	return time.LoadLocationFromTZData(tzid, tzif(*first, ts))
}

// parseUTCOffset parses "+HHMM" or "+HHMMSS".
func parseUTCOffset(p *ical.Prop) (int, error) {
	if p == nil {
		return 0, fmt.Errorf("no offset")
	}
	v := strings.TrimSpace(p.Value)
	if len(v) != 5 && len(v) != 7 || (v[0] != '+' && v[0] != '-') {
		return 0, fmt.Errorf("bad UTC offset %q", v)
	}
	h, err1 := strconv.Atoi(v[1:3])
	m, err2 := strconv.Atoi(v[3:5])
	s := 0
	var err3 error
	if len(v) == 7 {
		s, err3 = strconv.Atoi(v[5:7])
	}
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, fmt.Errorf("bad UTC offset %q", v)
	}
	off := h*3600 + m*60 + s
	if v[0] == '-' {
		off = -off
	}
	return off, nil
}

// tzif renders transitions as TZif version 2 data (RFC 8536) with an empty
// version 1 block: zone 0 is the offset before the first onset.
func tzif(initial transition, ts []transition) []byte {
	type zkey struct {
		off  int
		dst  bool
		name string
	}
	var zs []zkey
	index := map[zkey]int{}
	var chars bytes.Buffer
	nameAt := map[string]int{}
	zoneOf := func(t transition) int {
		k := zkey{t.offset, t.dst, t.name}
		if i, ok := index[k]; ok {
			return i
		}
		if _, ok := nameAt[k.name]; !ok {
			nameAt[k.name] = chars.Len()
			chars.WriteString(k.name)
			chars.WriteByte(0)
		}
		index[k] = len(zs)
		zs = append(zs, k)
		return index[k]
	}
	zoneOf(initial)
	var times []int64
	var idx []byte
	for i, t := range ts {
		if i > 0 && t.at == ts[i-1].at {
			continue
		}
		times = append(times, t.at)
		idx = append(idx, byte(zoneOf(t)))
	}
	var b bytes.Buffer
	header := func(ntime, nzone, nchar int) {
		b.WriteString("TZif2")
		b.Write(make([]byte, 15))
		for _, n := range []int{0, 0, 0, ntime, nzone, nchar} {
			binary.Write(&b, binary.BigEndian, uint32(n))
		}
	}
	header(0, 0, 0)
	header(len(times), len(zs), chars.Len())
	for _, t := range times {
		binary.Write(&b, binary.BigEndian, t)
	}
	b.Write(idx)
	for _, z := range zs {
		binary.Write(&b, binary.BigEndian, int32(z.off))
		dst := byte(0)
		if z.dst {
			dst = 1
		}
		b.WriteByte(dst)
		b.WriteByte(byte(nameAt[z.name]))
	}
	b.Write(chars.Bytes())
	b.WriteString("\n\n")
	return b.Bytes()
}
