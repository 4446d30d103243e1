package dav

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/groupware"
)

// report dispatches REPORT by its root element.
func (q *request) report() error {
	body, err := readXML(q.r)
	if err != nil || body == nil {
		return badRequest("REPORT needs an XML body")
	}
	if q.t.kind != resCollection && q.t.kind != resObject {
		return ErrReportNotSupported.Newf("REPORT %s is not supported on this resource", body.XMLName.Local).
			WithHint("send reports to a calendar or address book URL")
	}
	c, err := q.collection()
	if err != nil {
		return err
	}
	switch body.XMLName {
	case name(nsCalDAV, "calendar-multiget"), name(nsCardDV, "addressbook-multiget"):
		return q.multiget(c, body)
	case name(nsCalDAV, "calendar-query"):
		return q.calendarQuery(c, body)
	case name(nsCardDV, "addressbook-query"):
		return q.addressbookQuery(c, body)
	case name(nsCalDAV, "free-busy-query"):
		return q.freeBusy(c, body)
	case name(nsDAV, "sync-collection"):
		return q.syncCollection(c, body)
	}
	return ErrReportNotSupported.Newf("REPORT %s is not supported", clark(body.XMLName)).
		WithHint("supported: calendar-query, calendar-multiget, free-busy-query, addressbook-query, addressbook-multiget, sync-collection")
}

// writeMatches answers a query with the objects it selected and the
// properties the body asks for.
func (q *request) writeMatches(c *groupware.Collection, ms []groupware.Match, body *node) error {
	pr := parsePropRequest(body)
	var rs []response
	for i := range ms {
		m := &ms[i]
		ps := q.objectProps(c, &m.Object, func() ([]byte, error) { return m.Data, nil })
		r, err := ps.respond(objectHref(q.t.tree, q.t.addr, c.Name, m.Name), pr)
		if err != nil {
			return err
		}
		rs = append(rs, r)
	}
	writeMultistatus(q.w, rs, "")
	return nil
}

// multiget answers calendar-multiget and addressbook-multiget: each href
// must name an object of this collection (anything else is 404).
func (q *request) multiget(c *groupware.Collection, body *node) error {
	pr := parsePropRequest(body)
	var rs []response
	for _, h := range body.all(nsDAV, "href") {
		href := strings.TrimSpace(h.Text)
		if u, err := url.Parse(href); err == nil {
			href = u.EscapedPath()
		}
		obj, ok := q.memberName(href)
		if !ok {
			rs = append(rs, response{href: href, status: http.StatusNotFound})
			continue
		}
		o, err := q.h.GW.GetObject(q.ctx, q.acc, c, obj)
		if err != nil {
			if errs.As(err) != nil && errs.As(err).Kind == errs.NotFound {
				rs = append(rs, response{href: href, status: http.StatusNotFound})
				continue
			}
			return err
		}
		r, err := q.objectProps(c, o, q.reader(o)).respond(href, pr)
		if err != nil {
			return err
		}
		rs = append(rs, r)
	}
	writeMultistatus(q.w, rs, "")
	return nil
}

// memberName returns the object name an escaped href names inside the
// requested collection (compared segment-decoded, so %40 and @ agree).
func (q *request) memberName(href string) (string, bool) {
	t, err := parseTarget(href)
	if err != nil || t.kind != resObject || t.tree != q.t.tree || t.coll != q.t.coll {
		return "", false
	}
	if t.addr != q.t.addr {
		// Another spelling of the same mailbox is fine; another mailbox
		// is not reachable through this collection.
		a, err := q.h.GW.Open(q.ctx, q.user, t.addr)
		if err != nil || a.Owner.ID != q.acc.Owner.ID {
			return "", false
		}
	}
	return t.obj, true
}

// parseTimeRange reads a time-range element's start and end (UTC
// date-times, RFC 4791 §9.9).
func parseTimeRange(n *node) (*groupware.TimeRange, error) {
	if n == nil {
		return nil, nil
	}
	tr := &groupware.TimeRange{}
	for _, a := range []struct {
		attr string
		dst  *time.Time
	}{{"start", &tr.Start}, {"end", &tr.End}} {
		v := n.attr(a.attr)
		if v == "" {
			continue
		}
		t, err := time.Parse("20060102T150405Z", v)
		if err != nil {
			return nil, groupware.ErrInvalidFilter.Newf("time-range %s=%q is not a UTC date-time", a.attr, v).
				WithHint("write times like 20260101T000000Z")
		}
		*a.dst = t
	}
	if tr.Start.IsZero() && tr.End.IsZero() {
		return nil, groupware.ErrInvalidFilter.Newf("a time-range needs a start or an end").WithHint("add start=\"...Z\" and/or end=\"...Z\"")
	}
	return tr, nil
}

func parseTextMatch(n *node) *groupware.TextMatch {
	if n == nil {
		return nil
	}
	return &groupware.TextMatch{Text: n.Text, Collation: n.attr("collation"), MatchType: n.attr("match-type"),
		Negate: n.attr("negate-condition") == "yes"}
}

func parseParamFilters(n *node, ns string) []groupware.ParamFilter {
	var out []groupware.ParamFilter
	for _, p := range n.all(ns, "param-filter") {
		out = append(out, groupware.ParamFilter{Name: p.attr("name"), IsNotDefined: p.child(ns, "is-not-defined") != nil,
			TextMatch: parseTextMatch(p.child(ns, "text-match"))})
	}
	return out
}

// parseCompFilter reads a CALDAV:comp-filter.
func parseCompFilter(n *node) (groupware.CompFilter, error) {
	f := groupware.CompFilter{Name: strings.ToUpper(n.attr("name")), IsNotDefined: n.child(nsCalDAV, "is-not-defined") != nil}
	var err error
	if f.TimeRange, err = parseTimeRange(n.child(nsCalDAV, "time-range")); err != nil {
		return f, err
	}
	for _, p := range n.all(nsCalDAV, "prop-filter") {
		pf := groupware.PropFilter{Name: p.attr("name"), IsNotDefined: p.child(nsCalDAV, "is-not-defined") != nil,
			Params: parseParamFilters(p, nsCalDAV)}
		if pf.TimeRange, err = parseTimeRange(p.child(nsCalDAV, "time-range")); err != nil {
			return f, err
		}
		if tm := parseTextMatch(p.child(nsCalDAV, "text-match")); tm != nil {
			pf.TextMatches = append(pf.TextMatches, *tm)
		}
		f.Props = append(f.Props, pf)
	}
	for _, c := range n.all(nsCalDAV, "comp-filter") {
		cf, err := parseCompFilter(c)
		if err != nil {
			return f, err
		}
		f.Comps = append(f.Comps, cf)
	}
	return f, nil
}

// calendarQuery answers calendar-query (RFC 4791 §7.8). The calendar-data
// returned is the whole object: comp/prop selection, expand and
// limit-recurrence-set are not applied.
func (q *request) calendarQuery(c *groupware.Collection, body *node) error {
	if c.Kind != groupware.KindCalendar {
		return ErrReportNotSupported.Newf("calendar-query needs a calendar").WithHint("query an address book with addressbook-query")
	}
	fn := body.child(nsCalDAV, "filter").child(nsCalDAV, "comp-filter")
	if fn == nil {
		return groupware.ErrInvalidFilter.Newf("calendar-query without a filter").WithHint("add <C:filter><C:comp-filter name=\"VCALENDAR\"/></C:filter>")
	}
	f, err := parseCompFilter(fn)
	if err != nil {
		return err
	}
	var floating *time.Location
	if tz := body.child(nsCalDAV, "timezone"); tz != nil {
		floating = groupware.ZoneOf([]byte(tz.Text))
	}
	ms, err := q.h.GW.CalendarQuery(q.ctx, q.acc, c, f, floating)
	if err != nil {
		return err
	}
	return q.writeMatches(c, ms, body)
}

// addressbookQuery answers addressbook-query (RFC 6352 §8.6), honouring
// CARDDAV:limit/nresults. address-data is the whole vCard.
func (q *request) addressbookQuery(c *groupware.Collection, body *node) error {
	if c.Kind != groupware.KindAddressBook {
		return ErrReportNotSupported.Newf("addressbook-query needs an address book").WithHint("query a calendar with calendar-query")
	}
	fn := body.child(nsCardDV, "filter")
	f := groupware.CardFilter{AllOf: fn != nil && fn.attr("test") == "allof"}
	for _, p := range fn.all(nsCardDV, "prop-filter") {
		pf := groupware.PropFilter{Name: p.attr("name"), IsNotDefined: p.child(nsCardDV, "is-not-defined") != nil,
			Params: parseParamFilters(p, nsCardDV), AllOf: p.attr("test") == "allof"}
		for _, tm := range p.all(nsCardDV, "text-match") {
			pf.TextMatches = append(pf.TextMatches, *parseTextMatch(tm))
		}
		f.Props = append(f.Props, pf)
	}
	ms, err := q.h.GW.AddressBookQuery(q.ctx, q.acc, c, f)
	if err != nil {
		return err
	}
	if lim := body.child(nsCardDV, "limit").child(nsCardDV, "nresults"); lim != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(lim.Text)); err == nil && n >= 0 && n < len(ms) {
			ms = ms[:n]
		}
	}
	return q.writeMatches(c, ms, body)
}

// freeBusy answers free-busy-query (RFC 4791 §7.10) with a VFREEBUSY.
func (q *request) freeBusy(c *groupware.Collection, body *node) error {
	tr, err := parseTimeRange(body.child(nsCalDAV, "time-range"))
	if err != nil {
		return err
	}
	if tr == nil {
		tr = &groupware.TimeRange{}
	}
	data, err := q.h.GW.FreeBusy(q.ctx, q.acc, c, *tr)
	if err != nil {
		return err
	}
	q.w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	q.w.WriteHeader(http.StatusOK)
	q.w.Write(data)
	return nil
}

// syncCollection answers sync-collection (RFC 6578) on a collection:
// changed objects with the requested properties, removed ones as 404, and
// the new token. Only sync-level 1 exists here (collections are flat).
func (q *request) syncCollection(c *groupware.Collection, body *node) error {
	if q.t.kind != resCollection {
		return ErrReportNotSupported.Newf("sync-collection needs a collection URL")
	}
	if lvl := strings.TrimSpace(body.child(nsDAV, "sync-level").text()); lvl != "" && lvl != "1" && lvl != "infinite" {
		return badRequest("sync-level %q is not 1 or infinite", lvl)
	}
	var token string
	if tn := body.child(nsDAV, "sync-token"); tn != nil {
		token = strings.TrimSpace(tn.Text)
	}
	ch, err := q.h.GW.Sync(q.ctx, q.acc, c, token)
	if err != nil {
		return err
	}
	pr := parsePropRequest(body)
	var rs []response
	for i := range ch.Changed {
		o := &ch.Changed[i]
		r, err := q.objectProps(c, o, q.reader(o)).respond(objectHref(q.t.tree, q.t.addr, c.Name, o.Name), pr)
		if err != nil {
			return err
		}
		rs = append(rs, r)
	}
	for _, n := range ch.Removed {
		rs = append(rs, response{href: objectHref(q.t.tree, q.t.addr, c.Name, n), status: http.StatusNotFound})
	}
	writeMultistatus(q.w, rs, ch.Token)
	return nil
}

// otherFreeBusy answers a free-busy-query on a calendar the user may not
// open: a colleague's of the same tenant (free/busy only), or, through
// Handler.RemoteFreeBusy, a MailUser's whose mailbox a trusted partner
// still holds. notFound is the answer for any other report and any
// refusal.
func (q *request) otherFreeBusy(notFound error) error {
	body, err := readXML(q.r)
	if err != nil || body == nil || body.XMLName != name(nsCalDAV, "free-busy-query") {
		return notFound
	}
	tr, err := parseTimeRange(body.child(nsCalDAV, "time-range"))
	if err != nil {
		return err
	}
	if tr == nil || tr.Start.IsZero() || !tr.End.After(tr.Start) {
		return groupware.ErrInvalidFilter.Newf("a free-busy query needs a time range with a start before its end").
			WithHint("send <C:time-range start=\"...Z\" end=\"...Z\"/>")
	}
	if acc, err := q.h.GW.OpenFreeBusy(q.ctx, q.user, q.t.addr); err == nil {
		// A colleague's mailbox of the same tenant: free/busy only.
		c, err := q.h.GW.Collection(q.ctx, acc, groupware.KindCalendar, q.t.coll)
		if err != nil {
			return err
		}
		data, err := q.h.GW.FreeBusy(q.ctx, acc, c, *tr)
		if err != nil {
			return err
		}
		q.w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
		q.w.WriteHeader(http.StatusOK)
		q.w.Write(data)
		return nil
	}
	if q.h.RemoteFreeBusy == nil {
		return notFound
	}
	data, err := q.h.RemoteFreeBusy(q.ctx, q.user.Recipient.TenantID, q.t.addr, tr.Start, tr.End)
	if err != nil {
		if e := errs.As(err); e != nil && e.Temporary() {
			return err
		}
		q.h.log().Info("dav: remote free/busy refused", "user", q.user.Recipient.PrimarySmtpAddress, "address", q.t.addr, "err", err)
		return notFound
	}
	q.w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	q.w.WriteHeader(http.StatusOK)
	q.w.Write(data)
	return nil
}
