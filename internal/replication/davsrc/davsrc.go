// Package davsrc reads a user's calendars, task lists and address books
// from a CalDAV (RFC 4791) or CardDAV (RFC 6352) server, for the IMAP
// onboarding of groupware (issue 9 item 5): any standard server, tested
// with Radicale.
//
// Discovery follows RFC 6764 §6 from the URL the admin gave: PROPFIND
// current-user-principal, then the principal's calendar-home-set or
// addressbook-home-set, then the home's members of the right resource type.
// Objects are listed with their ETags (PROPFIND Depth 1) and read with GET.
//
// Invariants:
//   - The server is only read: PROPFIND and GET, never a write.
//   - Object bytes are returned exactly as the server sent them, bounded by
//     the caller's size limit; an object over it is an error naming it.
//   - Every request carries the user's credentials (HTTP Basic) and only
//     goes to the server the URL names: hrefs are resolved against it and
//     one on another host is refused (ErrForeignHref), so a hostile server
//     cannot make the client send the credentials elsewhere.
package davsrc

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// Errors of the connector.
var (
	// ErrDAVRequest: the server refused a request or answered nonsense
	// (temporary: the pass is retried).
	ErrDAVRequest = errs.Sentinel(errs.Unavailable, "DAVSourceError")
	// ErrDAVAuth: the server refused the user's credentials.
	ErrDAVAuth = errs.Sentinel(errs.Unauthorized, "DAVSourceAuthFailed")
	// ErrForeignHref: the server named a resource on another host.
	ErrForeignHref = errs.Sentinel(errs.Invalid, "DAVForeignHref")
	// ErrObjectTooLarge: an object is larger than the limit.
	ErrObjectTooLarge = errs.Sentinel(errs.Invalid, "DAVObjectTooLarge")
)

// Kind is what a collection holds.
type Kind string

// Collection kinds.
const (
	Calendar    Kind = "calendar"
	AddressBook Kind = "addressbook"
)

// Client talks to one DAV server as one user.
type Client struct {
	HTTP     *http.Client // its transport decides which addresses may be reached
	User     string
	Password string
	// MaxObject bounds one object's size (bytes); 0 means 10 MiB.
	MaxObject int64
}

// Collection is a source calendar, task list or address book.
type Collection struct {
	Href        string // absolute URL
	Kind        Kind
	Name        string // last path segment, decoded
	DisplayName string
	Components  []string // calendars: supported components (VEVENT, VTODO, ...)
	Color       string
}

// Object is a member of a collection: its absolute URL and ETag.
type Object struct {
	Href string
	Name string // last path segment, decoded
	ETag string
}

// multistatus is a 207 body.
type multistatus struct {
	Responses []struct {
		Href     string `xml:"DAV: href"`
		Propstat []struct {
			Status string `xml:"DAV: status"`
			Prop   struct {
				Principal struct {
					Href string `xml:"DAV: href"`
				} `xml:"DAV: current-user-principal"`
				CalHome struct {
					Href []string `xml:"DAV: href"`
				} `xml:"urn:ietf:params:xml:ns:caldav calendar-home-set"`
				CardHome struct {
					Href []string `xml:"DAV: href"`
				} `xml:"urn:ietf:params:xml:ns:carddav addressbook-home-set"`
				Type struct {
					Collection  *struct{} `xml:"DAV: collection"`
					Calendar    *struct{} `xml:"urn:ietf:params:xml:ns:caldav calendar"`
					AddressBook *struct{} `xml:"urn:ietf:params:xml:ns:carddav addressbook"`
				} `xml:"DAV: resourcetype"`
				DisplayName string `xml:"DAV: displayname"`
				ETag        string `xml:"DAV: getetag"`
				Comps       struct {
					Comp []struct {
						Name string `xml:"name,attr"`
					} `xml:"urn:ietf:params:xml:ns:caldav comp"`
				} `xml:"urn:ietf:params:xml:ns:caldav supported-calendar-component-set"`
				Color string `xml:"http://apple.com/ns/ical/ calendar-color"`
			} `xml:"DAV: prop"`
		} `xml:"DAV: propstat"`
	} `xml:"DAV: response"`
}

const propfindHead = `<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cr="urn:ietf:params:xml:ns:carddav" xmlns:a="http://apple.com/ns/ical/"><d:prop>`
const propfindTail = `</d:prop></d:propfind>`

// propfind runs a PROPFIND of props (XML elements) at target.
func (c *Client) propfind(ctx context.Context, target *url.URL, depth string, props string) (*multistatus, error) {
	req, err := http.NewRequestWithContext(ctx, "PROPFIND", target.String(), strings.NewReader(propfindHead+props+propfindTail))
	if err != nil {
		return nil, ErrDAVRequest.Newf("PROPFIND %s: %v", target, err).WithObject(target.String())
	}
	req.Header.Set("Depth", depth)
	req.Header.Set("Content-Type", "application/xml; charset=utf-8")
	req.SetBasicAuth(c.User, c.Password)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, ErrDAVRequest.Newf("PROPFIND %s: %v", target, err).WithObject(target.String()).
			WithHint("check that the endpoint's DAV URL is reachable from this server")
	}
	defer resp.Body.Close()
	if err := statusErr("PROPFIND", target, resp, http.StatusMultiStatus); err != nil {
		return nil, err
	}
	var ms multistatus
	if err := xml.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&ms); err != nil {
		return nil, ErrDAVRequest.Newf("PROPFIND %s: the answer is not a DAV multistatus: %v", target, err).WithObject(target.String())
	}
	return &ms, nil
}

// statusErr turns an unexpected HTTP status into an error.
func statusErr(method string, target *url.URL, resp *http.Response, want int) error {
	if resp.StatusCode == want {
		return nil
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return ErrDAVAuth.Newf("%s %s: the server refused the login (%s)", method, target, resp.Status).WithObject(target.String()).
			WithHint("check the user's UserName and Password in the batch CSV (the DAV server uses the IMAP login)")
	}
	return ErrDAVRequest.Newf("%s %s: %s", method, target, resp.Status).WithObject(target.String())
}

// resolve resolves href against base; hrefs on another host are refused.
func resolve(base *url.URL, href string) (*url.URL, error) {
	u, err := base.Parse(strings.TrimSpace(href))
	if err != nil {
		return nil, ErrDAVRequest.Newf("the server sent an invalid href %q", href).WithObject(href)
	}
	if u.Scheme != base.Scheme || u.Host != base.Host {
		return nil, ErrForeignHref.Newf("the server named %s, on another host than %s", u.Redacted(), base.Host).WithObject(href).
			WithHint("point the endpoint's DAV URL at the server that holds the collections")
	}
	return u, nil
}

// lastSegment returns the decoded last path segment of u.
func lastSegment(u *url.URL) string {
	return path.Base(strings.TrimSuffix(u.Path, "/"))
}

// Discover lists the user's collections of kind on the server at base.
func (c *Client) Discover(ctx context.Context, base string, kind Kind) ([]Collection, error) {
	bu, err := url.Parse(base)
	if err != nil {
		return nil, ErrDAVRequest.Newf("invalid DAV URL %q", base).WithObject(base)
	}
	ms, err := c.propfind(ctx, bu, "0", `<d:current-user-principal/>`)
	if err != nil {
		return nil, err
	}
	principal := bu
	for _, r := range ms.Responses {
		for _, ps := range r.Propstat {
			if h := ps.Prop.Principal.Href; h != "" {
				if principal, err = resolve(bu, h); err != nil {
					return nil, err
				}
			}
		}
	}
	homeProp := `<c:calendar-home-set/>`
	if kind == AddressBook {
		homeProp = `<cr:addressbook-home-set/>`
	}
	if ms, err = c.propfind(ctx, principal, "0", homeProp); err != nil {
		return nil, err
	}
	var homes []*url.URL
	for _, r := range ms.Responses {
		for _, ps := range r.Propstat {
			hs := ps.Prop.CalHome.Href
			if kind == AddressBook {
				hs = ps.Prop.CardHome.Href
			}
			for _, h := range hs {
				u, err := resolve(bu, h)
				if err != nil {
					return nil, err
				}
				homes = append(homes, u)
			}
		}
	}
	if len(homes) == 0 {
		homes = []*url.URL{principal}
	}
	var out []Collection
	for _, home := range homes {
		cs, err := c.members(ctx, bu, home, kind)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Href < out[j].Href })
	return out, nil
}

// members lists the collections of kind directly below home.
func (c *Client) members(ctx context.Context, base, home *url.URL, kind Kind) ([]Collection, error) {
	ms, err := c.propfind(ctx, home, "1", `<d:resourcetype/><d:displayname/><c:supported-calendar-component-set/><a:calendar-color/>`)
	if err != nil {
		return nil, err
	}
	var out []Collection
	for _, r := range ms.Responses {
		u, err := resolve(base, r.Href)
		if err != nil {
			return nil, err
		}
		col := Collection{Href: u.String(), Kind: kind, Name: lastSegment(u)}
		match := false
		for _, ps := range r.Propstat {
			if !strings.Contains(ps.Status, " 200") {
				continue
			}
			p := ps.Prop
			match = match || (kind == Calendar && p.Type.Calendar != nil) || (kind == AddressBook && p.Type.AddressBook != nil)
			if p.DisplayName != "" {
				col.DisplayName = p.DisplayName
			}
			for _, cp := range p.Comps.Comp {
				col.Components = append(col.Components, strings.ToUpper(cp.Name))
			}
			if p.Color != "" {
				col.Color = p.Color
			}
		}
		if match {
			out = append(out, col)
		}
	}
	return out, nil
}

// Objects lists a collection's objects with their ETags, by href.
func (c *Client) Objects(ctx context.Context, col Collection) ([]Object, error) {
	cu, err := url.Parse(col.Href)
	if err != nil {
		return nil, ErrDAVRequest.Newf("invalid collection URL %q", col.Href)
	}
	ms, err := c.propfind(ctx, cu, "1", `<d:resourcetype/><d:getetag/>`)
	if err != nil {
		return nil, err
	}
	var out []Object
	for _, r := range ms.Responses {
		u, err := resolve(cu, r.Href)
		if err != nil {
			return nil, err
		}
		if strings.TrimSuffix(u.Path, "/") == strings.TrimSuffix(cu.Path, "/") {
			continue // the collection itself
		}
		o := Object{Href: u.String(), Name: lastSegment(u)}
		isColl := false
		for _, ps := range r.Propstat {
			if strings.Contains(ps.Status, " 200") {
				isColl = isColl || ps.Prop.Type.Collection != nil
				if ps.Prop.ETag != "" {
					o.ETag = strings.Trim(ps.Prop.ETag, `"`)
				}
			}
		}
		if !isColl {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Href < out[j].Href })
	return out, nil
}

// Get reads an object's bytes exactly as the server sends them, and its
// ETag (the one listed when the server sends none).
func (c *Client) Get(ctx context.Context, o Object) ([]byte, string, error) {
	u, err := url.Parse(o.Href)
	if err != nil {
		return nil, "", ErrDAVRequest.Newf("invalid object URL %q", o.Href)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", ErrDAVRequest.Newf("GET %s: %v", u, err)
	}
	req.SetBasicAuth(c.User, c.Password)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, "", ErrDAVRequest.Newf("GET %s: %v", u, err).WithObject(o.Href)
	}
	defer resp.Body.Close()
	if err := statusErr("GET", u, resp, http.StatusOK); err != nil {
		return nil, "", err
	}
	limit := c.MaxObject
	if limit <= 0 {
		limit = 10 << 20
	}
	var b bytes.Buffer
	n, err := io.Copy(&b, io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, "", ErrDAVRequest.Newf("GET %s: %v", u, err).WithObject(o.Href)
	}
	if n > limit {
		return nil, "", ErrObjectTooLarge.Newf("%s is larger than %d bytes", o.Name, limit).WithObject(o.Href)
	}
	etag := strings.Trim(resp.Header.Get("ETag"), `"`)
	if etag == "" {
		etag = o.ETag
	}
	return b.Bytes(), etag, nil
}

// String describes a collection for logs and reports.
func (c Collection) String() string {
	if c.DisplayName != "" && c.DisplayName != c.Name {
		return fmt.Sprintf("%s %q (%s)", c.Kind, c.DisplayName, c.Name)
	}
	return fmt.Sprintf("%s %s", c.Kind, c.Name)
}

// Probe checks that a DAV server answers at url without logging in: a
// PROPFIND must get 207 Multi-Status or 401 (the server asks for the
// user's login, which comes with the batch). Only the status is reported,
// never the reply's text.
func Probe(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, "PROPFIND", url, strings.NewReader(propfindHead+`<d:current-user-principal/>`+propfindTail))
	if err != nil {
		return ErrDAVRequest.Newf("invalid DAV URL %q", url).WithObject(url)
	}
	req.Header.Set("Depth", "0")
	req.Header.Set("Content-Type", "application/xml; charset=utf-8")
	resp, err := hc.Do(req)
	if err != nil {
		return ErrDAVRequest.Newf("%s is not reachable: %v", url, err).WithObject(url).
			WithHint("check the endpoint's --caldav-url/--carddav-url and that this server may reach it (--endpoint-allow)")
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMultiStatus && resp.StatusCode != http.StatusUnauthorized {
		return ErrDAVRequest.Newf("%s answered a PROPFIND with %s, not as a CalDAV/CardDAV server", url, resp.Status).WithObject(url).
			WithHint("point the URL at the server's DAV root (e.g. https://dav.example/ or its /.well-known/caldav)")
	}
	return nil
}
