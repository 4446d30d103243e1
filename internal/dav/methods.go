package dav

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/groupware"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// Errors of the DAV adapter.
var (
	// ErrBadRequest: a request body or header the server cannot use.
	ErrBadRequest = errs.Sentinel(errs.Invalid, "BadDAVRequest")
	// ErrProtectedProperty: PROPPATCH of a property the server computes,
	// or of a resource without writable properties.
	ErrProtectedProperty = errs.Sentinel(errs.Forbidden, "ProtectedProperty")
	// ErrCollectionLocation: MKCOL/MKCALENDAR outside a home, or of a
	// type that does not belong there.
	ErrCollectionLocation = errs.Sentinel(errs.Forbidden, "CollectionLocation")
	// ErrReportNotSupported: a REPORT the resource does not support.
	ErrReportNotSupported = errs.Sentinel(errs.Forbidden, "ReportNotSupported")
)

func badRequest(format string, args ...any) error {
	return ErrBadRequest.Newf(format, args...).WithHint("send a request as RFC 4918, 4791, 6352 or 6578 describe it")
}

// collection resolves the collection the target names.
func (q *request) collection() (*groupware.Collection, error) {
	return q.h.GW.Collection(q.ctx, q.acc, q.t.tree, q.t.coll)
}

// propfind answers PROPFIND (Depth 0 or 1; infinity is served as 1).
func (q *request) propfind() error {
	body, err := readXML(q.r)
	if err != nil {
		return badRequest("%v", err)
	}
	if body != nil && (body.XMLName.Space != nsDAV || body.XMLName.Local != "propfind") {
		return badRequest("PROPFIND needs a DAV:propfind body")
	}
	pr := parsePropRequest(body)
	deep := q.r.Header.Get("Depth") != "0"
	var rs []response
	add := func(href string, ps *propSet) error {
		r, err := ps.respond(href, pr)
		rs = append(rs, r)
		return err
	}
	t := q.t
	switch t.kind {
	case resRoot:
		err = add(Prefix, q.collectionProps("tenantferry"))
	case resPrincipals:
		if err = add(Prefix+"principals/", q.collectionProps("Principals")); err == nil && deep {
			a, oerr := q.h.GW.Open(q.ctx, q.user, q.user.Address())
			if oerr != nil {
				return oerr
			}
			err = add(principalHref(a.Address()), q.principalProps(a))
		}
	case resPrincipal:
		err = add(principalHref(t.addr), q.principalProps(q.acc))
	case resHomes:
		if err = add(Prefix+treeName(t.tree)+"/", q.collectionProps(treeName(t.tree))); err == nil && deep {
			err = add(homeHref(t.tree, q.user.Address()), q.collectionProps(q.user.Address()))
		}
	case resHome:
		if err = add(homeHref(t.tree, t.addr), q.homeProps()); err != nil || !deep {
			break
		}
		cs, cerr := q.h.GW.Collections(q.ctx, q.acc, t.tree)
		if cerr != nil {
			return cerr
		}
		for i := range cs {
			if err = add(collectionHref(t.tree, t.addr, cs[i].Name), q.collectionPropsOf(&cs[i])); err != nil {
				break
			}
		}
	case resCollection:
		c, cerr := q.collection()
		if cerr != nil {
			return cerr
		}
		if err = add(collectionHref(t.tree, t.addr, c.Name), q.collectionPropsOf(c)); err != nil || !deep {
			break
		}
		objs, oerr := q.h.GW.ListObjects(q.ctx, q.acc, c)
		if oerr != nil {
			return oerr
		}
		for i := range objs {
			if err = add(objectHref(t.tree, t.addr, c.Name, objs[i].Name), q.objectProps(c, &objs[i], q.reader(&objs[i]))); err != nil {
				break
			}
		}
	case resObject:
		c, cerr := q.collection()
		if cerr != nil {
			return cerr
		}
		o, oerr := q.h.GW.GetObject(q.ctx, q.acc, c, t.obj)
		if oerr != nil {
			return oerr
		}
		err = add(objectHref(t.tree, t.addr, c.Name, o.Name), q.objectProps(c, o, q.reader(o)))
	}
	if err != nil {
		return err
	}
	writeMultistatus(q.w, rs, "")
	return nil
}

// homeProps are a calendar or address book home's properties.
func (q *request) homeProps() *propSet {
	ps := q.collectionProps(q.acc.Owner.DisplayName)
	ps.raw(pOwner, true, hrefXML(principalHref(q.acc.Address())))
	return ps
}

// reader returns a loader of an object's bytes.
func (q *request) reader(o *groupware.Object) func() ([]byte, error) {
	return func() ([]byte, error) { return q.h.GW.ReadObject(q.ctx, q.acc, o) }
}

// patch is a parsed PROPPATCH, MKCALENDAR or extended MKCOL body.
type patch struct {
	set       map[string]string // property values ("" removes)
	rtype     *node             // a resourcetype being set
	protected []xml.Name        // live properties the client tried to set
}

// parsePatch reads the <D:set>/<D:remove> instructions of a body.
func parsePatch(body *node) *patch {
	p := &patch{set: map[string]string{}}
	for _, op := range body.Children {
		if op.XMLName.Space != nsDAV || (op.XMLName.Local != "set" && op.XMLName.Local != "remove") {
			continue
		}
		for _, pn := range op.all(nsDAV, "prop") {
			for i := range pn.Children {
				p.add(op.XMLName.Local == "remove", &pn.Children[i])
			}
		}
	}
	return p
}

func (p *patch) add(remove bool, c *node) {
	k := clark(c.XMLName)
	switch {
	case c.XMLName == pResourceType && !remove:
		p.rtype = c
	case c.XMLName == pComponentSet && !remove:
		var comps []string
		for _, comp := range c.all(nsCalDAV, "comp") {
			comps = append(comps, comp.attr("name"))
		}
		p.set[k] = strings.Join(comps, ",")
	case liveProps[c.XMLName] || c.XMLName == pResourceType:
		p.protected = append(p.protected, c.XMLName)
	case remove:
		p.set[k] = ""
	case k == groupware.PropCalendarTimezone:
		p.set[k] = c.Text
	case textProps[k]:
		p.set[k] = strings.TrimSpace(c.Text)
	default:
		p.set[k] = c.serialize()
	}
}

func (p *patch) names() []prop {
	var ps []prop
	for k := range p.set {
		ps = append(ps, prop{name: parseClark(k)})
	}
	return ps
}

// proppatch sets collection properties (RFC 4918 §9.2): all or nothing.
func (q *request) proppatch() error {
	if q.t.kind != resCollection {
		return ErrProtectedProperty.Newf("only calendars and address books have writable properties").
			WithHint("PROPPATCH a collection URL")
	}
	c, err := q.collection()
	if err != nil {
		return err
	}
	body, err := readXML(q.r)
	if err != nil || body == nil || body.XMLName != name(nsDAV, "propertyupdate") {
		return badRequest("PROPPATCH needs a DAV:propertyupdate body")
	}
	p := parsePatch(body)
	r := response{href: collectionHref(q.t.tree, q.t.addr, c.Name)}
	if len(p.protected) > 0 || p.rtype != nil {
		// Nothing is applied: the protected ones fail, the rest depend.
		r.failed, r.code = p.names(), http.StatusFailedDependency
		bad := response{href: r.href, code: http.StatusForbidden}
		for _, n := range p.protected {
			bad.failed = append(bad.failed, prop{name: n})
		}
		if p.rtype != nil {
			bad.failed = append(bad.failed, prop{name: pResourceType})
		}
		writeMultistatus(q.w, []response{bad, r}, "")
		return nil
	}
	if _, err := q.h.GW.SetCollectionProps(q.ctx, q.acc, c, p.set); err != nil {
		if e := errs.As(err); e == nil || e.Kind == errs.Internal {
			return err
		}
		r.failed = p.names()
		r.code, _ = statusOf(err)
	} else {
		r.found = p.names()
	}
	writeMultistatus(q.w, []response{r}, "")
	return nil
}

// mkcol creates a calendar (MKCALENDAR, or MKCOL with a calendar resource
// type) or an address book (extended MKCOL, RFC 5689).
func (q *request) mkcol() error {
	if q.t.kind != resCollection {
		return ErrCollectionLocation.Newf("collections are created at /dav/calendars/ADDRESS/NAME/ or /dav/addressbooks/ADDRESS/NAME/").
			WithHint("choose a URL directly below your calendar or address book home")
	}
	body, err := readXML(q.r)
	if err != nil {
		return badRequest("%v", err)
	}
	props := map[string]string{}
	kind := q.t.tree
	if body != nil {
		p := parsePatch(body)
		if len(p.protected) > 0 {
			return ErrProtectedProperty.Newf("%s is computed by the server and cannot be set", clark(p.protected[0])).WithObject(clark(p.protected[0])).
				WithHint("leave it out of the request")
		}
		props = p.set
		if rtype := p.rtype; rtype != nil {
			switch {
			case rtype.child(nsCalDAV, "calendar") != nil:
				kind = groupware.KindCalendar
			case rtype.child(nsCardDV, "addressbook") != nil:
				kind = groupware.KindAddressBook
			default:
				return ErrCollectionLocation.Newf("only calendars and address books can be created").
					WithHint("set the resource type to calendar or addressbook")
			}
		}
	}
	if q.r.Method == "MKCALENDAR" {
		kind = groupware.KindCalendar
	}
	if kind != q.t.tree {
		return ErrCollectionLocation.Newf("a %s cannot be created under %s/", kind, treeName(q.t.tree)).
			WithHint("create calendars under /dav/calendars/ and address books under /dav/addressbooks/")
	}
	c, err := q.h.GW.CreateCollection(q.ctx, q.acc, groupware.NewCollection{Kind: kind, Name: q.t.coll, Props: props})
	if err != nil {
		return err
	}
	q.w.Header().Set("Location", collectionHref(q.t.tree, q.t.addr, c.Name))
	q.w.WriteHeader(http.StatusCreated)
	return nil
}

// get serves an object's bytes verbatim (GET, HEAD); collections and
// principals answer a short text.
func (q *request) get() error {
	if q.t.kind != resObject {
		q.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		q.w.WriteHeader(http.StatusOK)
		if q.r.Method == http.MethodGet {
			io.WriteString(q.w, "tenantferry CalDAV/CardDAV: use a CalDAV or CardDAV client with this URL.\n")
		}
		return nil
	}
	c, err := q.collection()
	if err != nil {
		return err
	}
	o, err := q.h.GW.GetObject(q.ctx, q.acc, c, q.t.obj)
	if err != nil {
		return err
	}
	h := q.w.Header()
	h.Set("Content-Type", contentType(c))
	h.Set("ETag", strconv.Quote(o.ETag))
	h.Set("Last-Modified", o.ModTime.UTC().Format(http.TimeFormat))
	h.Set("Content-Length", strconv.FormatInt(o.Size, 10))
	if match := etags(q.r.Header.Get("If-None-Match")); len(match) > 0 && (match[0] == "*" || contains(match, o.ETag)) {
		q.w.WriteHeader(http.StatusNotModified)
		return nil
	}
	if q.r.Method == http.MethodHead {
		q.w.WriteHeader(http.StatusOK)
		return nil
	}
	data, err := q.h.GW.ReadObject(q.ctx, q.acc, o)
	if err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusOK)
	q.w.Write(data)
	return nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// etags parses an If-Match / If-None-Match list ("*" or quoted tags, weak
// ones compared by their opaque part).
func etags(h string) []string {
	var out []string
	for _, p := range strings.Split(h, ",") {
		p = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(p), "W/"))
		if p == "" {
			continue
		}
		out = append(out, strings.Trim(p, `"`))
	}
	return out
}

func (q *request) conditions() groupware.Conditions {
	return groupware.Conditions{IfMatch: etags(q.r.Header.Get("If-Match")), IfNoneMatch: etags(q.r.Header.Get("If-None-Match"))}
}

// put stores an object: 201 when created, 204 when replaced, with its
// ETag (the bytes are stored as sent, so the tag is strong).
func (q *request) put() error {
	if q.t.kind != resObject {
		return errMethod("PUT on a collection")
	}
	c, err := q.collection()
	if err != nil {
		return err
	}
	max := q.h.GW.MaxSize()
	if q.r.ContentLength > max {
		return groupware.ErrObjectTooLarge.Newf("object %s has %d bytes, more than the limit of %d", q.t.obj, q.r.ContentLength, max).
			WithObject(q.t.obj).WithHint("store smaller objects (shrink attachments or photos)")
	}
	data, err := io.ReadAll(io.LimitReader(q.r.Body, max+1))
	if err != nil {
		return badRequest("reading the body failed: %v", err)
	}
	o, created, err := q.h.GW.PutObject(q.ctx, q.acc, c, q.t.obj, data, q.conditions())
	if err != nil {
		return q.uidConflict(c, err)
	}
	q.w.Header().Set("ETag", strconv.Quote(o.ETag))
	if created {
		q.w.Header().Set("Location", objectHref(q.t.tree, q.t.addr, c.Name, o.Name))
		q.w.WriteHeader(http.StatusCreated)
	} else {
		q.w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

// uidConflict answers a UID conflict with the RFC's no-uid-conflict
// element naming the object that holds the UID; other errors pass.
func (q *request) uidConflict(c *groupware.Collection, err error) error {
	if !errors.Is(err, mailstore.ErrObjectUIDConflict) {
		return err
	}
	e := errs.As(err)
	ns := nsCalDAV
	if c.Kind == groupware.KindAddressBook {
		ns = nsCardDV
	}
	cond := x(name(ns, "no-uid-conflict"), hrefXML(objectHref(q.t.tree, q.t.addr, c.Name, e.Object)))
	body := fmt.Sprintf(`<?xml version="1.0" encoding="utf-8"?>`+"\n"+`<D:error xmlns:D="DAV:" xmlns:C="%s" xmlns:CR="%s" xmlns:TF="%s">%s%s%s%s</D:error>`+"\n",
		nsCalDAV, nsCardDV, nsTF, cond, x(name(nsTF, "code"), esc(e.Code)), x(name(nsTF, "message"), esc(e.Message)), x(name(nsTF, "hint"), esc(e.Hint)))
	q.w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	q.w.Header().Set("X-Error-Code", e.Code)
	q.w.WriteHeader(http.StatusConflict)
	io.WriteString(q.w, body)
	return nil
}

// delete removes an object or a (non-default) collection.
func (q *request) delete() error {
	switch q.t.kind {
	case resObject:
		c, err := q.collection()
		if err != nil {
			return err
		}
		if err := q.h.GW.DeleteObject(q.ctx, q.acc, c, q.t.obj, q.conditions()); err != nil {
			return err
		}
	case resCollection:
		c, err := q.collection()
		if err != nil {
			return err
		}
		if err := q.h.GW.DeleteCollection(q.ctx, q.acc, c); err != nil {
			return err
		}
	default:
		return errMethod("DELETE of this resource")
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}
