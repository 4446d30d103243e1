package dav

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"

	"github.com/tenantferry/tenantferry/internal/groupware"
)

// Property names.
var (
	pResourceType       = name(nsDAV, "resourcetype")
	pDisplayName        = name(nsDAV, "displayname")
	pCurrentUser        = name(nsDAV, "current-user-principal")
	pPrincipalURL       = name(nsDAV, "principal-URL")
	pPrincipalColl      = name(nsDAV, "principal-collection-set")
	pOwner              = name(nsDAV, "owner")
	pPrivileges         = name(nsDAV, "current-user-privilege-set")
	pReports            = name(nsDAV, "supported-report-set")
	pSyncToken          = name(nsDAV, "sync-token")
	pETag               = name(nsDAV, "getetag")
	pContentType        = name(nsDAV, "getcontenttype")
	pContentLength      = name(nsDAV, "getcontentlength")
	pLastModified       = name(nsDAV, "getlastmodified")
	pCalendarHome       = name(nsCalDAV, "calendar-home-set")
	pCalendarUserAddr   = name(nsCalDAV, "calendar-user-address-set")
	pCalendarData       = name(nsCalDAV, "calendar-data")
	pComponentSet       = name(nsCalDAV, "supported-calendar-component-set")
	pCalendarDataTypes  = name(nsCalDAV, "supported-calendar-data")
	pCalendarMaxSize    = name(nsCalDAV, "max-resource-size")
	pAddressBookHome    = name(nsCardDV, "addressbook-home-set")
	pAddressData        = name(nsCardDV, "address-data")
	pAddressDataTypes   = name(nsCardDV, "supported-address-data")
	pAddressBookMaxSize = name(nsCardDV, "max-resource-size")
	pCTag               = name(nsCS, "getctag")
	pEmailAddressSet    = name(nsCS, "email-address-set")
)

// textProps are the stored collection properties whose value is text (the
// others, set by clients, are kept as XML).
var textProps = map[string]bool{
	groupware.PropDisplayName: true, groupware.PropCalendarDescription: true, groupware.PropCalendarTimezone: true,
	groupware.PropAddressBookDescription: true, groupware.PropCalendarColor: true, groupware.PropCalendarOrder: true,
}

// liveProps are computed by the server and cannot be set by PROPPATCH.
var liveProps = map[xml.Name]bool{
	pResourceType: true, pCurrentUser: true, pPrincipalURL: true, pOwner: true, pPrivileges: true, pReports: true,
	pSyncToken: true, pETag: true, pContentType: true, pContentLength: true, pLastModified: true, pCalendarHome: true,
	pAddressBookHome: true, pCalendarData: true, pAddressData: true, pCalendarDataTypes: true, pCalendarMaxSize: true,
	pAddressDataTypes: true, pCTag: true, pComponentSet: true, pCalendarUserAddr: true,
}

// propFunc computes one property's inner XML; ok false means not found.
type propFunc func() (inner string, ok bool, err error)

// propSet is the properties a resource has, and which of them allprop
// returns.
type propSet struct {
	funcs map[xml.Name]propFunc
	all   []xml.Name
}

func newPropSet() *propSet { return &propSet{funcs: map[xml.Name]propFunc{}} }

// add registers a property; inAll puts it in allprop answers.
func (ps *propSet) add(n xml.Name, inAll bool, f propFunc) {
	ps.funcs[n] = f
	if inAll {
		ps.all = append(ps.all, n)
	}
}

func (ps *propSet) text(n xml.Name, inAll bool, v string) {
	ps.add(n, inAll, func() (string, bool, error) { return esc(v), true, nil })
}

func (ps *propSet) raw(n xml.Name, inAll bool, v string) {
	ps.add(n, inAll, func() (string, bool, error) { return v, true, nil })
}

// propRequest is what a PROPFIND or REPORT asks for.
type propRequest struct {
	all   bool // allprop (plus include)
	names bool // propname
	props []xml.Name
}

// parsePropRequest reads <D:prop>, <D:allprop> or <D:propname> of an
// element (a nil element is allprop).
func parsePropRequest(n *node) propRequest {
	if n == nil {
		return propRequest{all: true}
	}
	if n.child(nsDAV, "propname") != nil {
		return propRequest{names: true}
	}
	var pr propRequest
	if n.child(nsDAV, "allprop") != nil {
		pr.all = true
		if inc := n.child(nsDAV, "include"); inc != nil {
			for _, c := range inc.Children {
				pr.props = append(pr.props, c.XMLName)
			}
		}
	}
	if p := n.child(nsDAV, "prop"); p != nil {
		for _, c := range p.Children {
			pr.props = append(pr.props, c.XMLName)
		}
	}
	if !pr.all && len(pr.props) == 0 {
		pr.all = true
	}
	return pr
}

// respond evaluates a request against a resource's properties.
func (ps *propSet) respond(href string, pr propRequest) (response, error) {
	r := response{href: href}
	if pr.names {
		for n := range ps.funcs {
			r.found = append(r.found, prop{name: n})
		}
		return r, nil
	}
	want := pr.props
	if pr.all {
		want = append(append([]xml.Name(nil), ps.all...), pr.props...)
	}
	seen := map[xml.Name]bool{}
	for _, n := range want {
		if seen[n] {
			continue
		}
		seen[n] = true
		f, ok := ps.funcs[n]
		if !ok {
			r.missed = append(r.missed, n)
			continue
		}
		inner, ok, err := f()
		if err != nil {
			return r, err
		}
		if !ok {
			r.missed = append(r.missed, n)
			continue
		}
		r.found = append(r.found, prop{name: n, inner: inner})
	}
	return r, nil
}

// common adds the properties every resource of the tree has.
func (q *request) common(ps *propSet) {
	ps.raw(pCurrentUser, false, hrefXML(principalHref(q.user.Address())))
	ps.raw(pPrincipalColl, false, hrefXML(Prefix+"principals/"))
	ps.raw(pPrivileges, false, privileges(q.acc == nil || q.acc.Access == groupware.AccessFull))
}

// privileges renders current-user-privilege-set.
func privileges(write bool) string {
	names := []string{"read", "read-current-user-privilege-set"}
	if write {
		names = append(names, "all", "write", "write-properties", "write-content", "bind", "unbind")
	}
	var b bytes.Buffer
	for _, n := range names {
		elem(&b, name(nsDAV, "privilege"), x(name(nsDAV, n), ""))
	}
	return b.String()
}

func resourceType(names ...xml.Name) string {
	var b bytes.Buffer
	for _, n := range names {
		elem(&b, n, "")
	}
	return b.String()
}

func reports(names ...xml.Name) string {
	var b bytes.Buffer
	for _, n := range names {
		elem(&b, name(nsDAV, "supported-report"), x(name(nsDAV, "report"), x(n, "")))
	}
	return b.String()
}

// collectionProps are the plain collections: root, principals, homes.
func (q *request) collectionProps(display string) *propSet {
	ps := newPropSet()
	q.common(ps)
	ps.raw(pResourceType, true, resourceType(name(nsDAV, "collection")))
	ps.text(pDisplayName, true, display)
	return ps
}

// principalProps are a principal's properties (RFC 3744, 4791 §6.2.1,
// 6352 §7.1.1).
func (q *request) principalProps(a *groupware.Account) *propSet {
	addr := a.Address()
	ps := newPropSet()
	q.common(ps)
	ps.raw(pResourceType, true, resourceType(name(nsDAV, "collection"), name(nsDAV, "principal")))
	display := a.Owner.DisplayName
	if display == "" {
		display = addr
	}
	ps.text(pDisplayName, true, display)
	ps.raw(pPrincipalURL, true, hrefXML(principalHref(addr)))
	ps.raw(pCalendarHome, true, hrefXML(homeHref(groupware.KindCalendar, addr)))
	ps.raw(pAddressBookHome, true, hrefXML(homeHref(groupware.KindAddressBook, addr)))
	var users, mails strings.Builder
	users.WriteString(hrefXML("mailto:" + addr))
	for _, s := range a.Owner.SMTPAddresses() {
		if !strings.EqualFold(s, addr) {
			users.WriteString(hrefXML("mailto:" + s))
		}
		mails.WriteString(x(name(nsCS, "email-address"), esc(s)))
	}
	users.WriteString(hrefXML(principalHref(addr)))
	ps.raw(pCalendarUserAddr, true, users.String())
	ps.raw(pEmailAddressSet, false, mails.String())
	return ps
}

// calendarCollectionProps are a calendar's or address book's properties.
func (q *request) collectionPropsOf(c *groupware.Collection) *propSet {
	ps := newPropSet()
	q.common(ps)
	addr := q.acc.Address()
	ps.raw(pOwner, true, hrefXML(principalHref(addr)))
	ps.text(pDisplayName, true, c.DisplayName())
	token := func() (string, bool, error) {
		t, err := q.h.GW.CollectionToken(q.ctx, q.acc, c)
		return esc(t), err == nil, err
	}
	ps.add(pSyncToken, true, token)
	ps.add(pCTag, true, token)
	ps.add(pETag, false, func() (string, bool, error) {
		t, err := q.h.GW.CollectionToken(q.ctx, q.acc, c)
		return esc(strconv.Quote(t)), err == nil, err
	})
	maxSize := strconv.FormatInt(q.h.GW.MaxSize(), 10)
	if c.Kind == groupware.KindCalendar {
		ps.raw(pResourceType, true, resourceType(name(nsDAV, "collection"), name(nsCalDAV, "calendar")))
		var comps bytes.Buffer
		for _, comp := range c.Components() {
			comps.WriteString(`<C:comp name="` + esc(comp) + `"/>`)
		}
		ps.raw(pComponentSet, true, comps.String())
		ps.raw(pCalendarDataTypes, true, `<C:calendar-data content-type="text/calendar" version="2.0"/>`)
		ps.text(pCalendarMaxSize, true, maxSize)
		ps.raw(pReports, true, reports(name(nsCalDAV, "calendar-query"), name(nsCalDAV, "calendar-multiget"),
			name(nsCalDAV, "free-busy-query"), name(nsDAV, "sync-collection")))
	} else {
		ps.raw(pResourceType, true, resourceType(name(nsDAV, "collection"), name(nsCardDV, "addressbook")))
		ps.raw(pAddressDataTypes, true, `<CR:address-data-type content-type="text/vcard" version="3.0"/><CR:address-data-type content-type="text/vcard" version="4.0"/>`)
		ps.text(pAddressBookMaxSize, true, maxSize)
		ps.raw(pReports, true, reports(name(nsCardDV, "addressbook-query"), name(nsCardDV, "addressbook-multiget"), name(nsDAV, "sync-collection")))
	}
	for k, v := range c.Props {
		if k == groupware.PropComponents || k == groupware.PropDisplayName {
			continue
		}
		if textProps[k] {
			ps.text(parseClark(k), true, v)
		} else {
			ps.raw(parseClark(k), true, v)
		}
	}
	return ps
}

// objectProps are an object's properties; data, when not nil, is served
// as calendar-data or address-data.
func (q *request) objectProps(c *groupware.Collection, o *groupware.Object, data func() ([]byte, error)) *propSet {
	ps := newPropSet()
	q.common(ps)
	ps.raw(pResourceType, true, "")
	ps.text(pETag, true, strconv.Quote(o.ETag))
	ps.text(pContentLength, true, strconv.FormatInt(o.Size, 10))
	ps.text(pLastModified, true, o.ModTime.UTC().Format(http.TimeFormat))
	dataName := pCalendarData
	ps.text(pContentType, true, contentType(c))
	if c.Kind == groupware.KindAddressBook {
		dataName = pAddressData
	}
	ps.add(dataName, false, func() (string, bool, error) {
		b, err := data()
		if err != nil {
			return "", false, err
		}
		return esc(string(b)), true, nil
	})
	return ps
}

func contentType(c *groupware.Collection) string {
	if c.Kind == groupware.KindAddressBook {
		return "text/vcard; charset=utf-8"
	}
	return "text/calendar; charset=utf-8"
}
