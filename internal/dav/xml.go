package dav

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
)

// XML namespaces of WebDAV, CalDAV, CardDAV and the extensions clients use.
const (
	nsDAV    = "DAV:"
	nsCalDAV = "urn:ietf:params:xml:ns:caldav"
	nsCardDV = "urn:ietf:params:xml:ns:carddav"
	nsCS     = "http://calendarserver.org/ns/"
	nsApple  = "http://apple.com/ns/ical/"
	nsTF     = "urn:x-tenantferry:error"
)

// prefixes are the prefixes the writer declares on the root element.
var prefixes = map[string]string{nsDAV: "D", nsCalDAV: "C", nsCardDV: "CR", nsCS: "CS", nsApple: "A", nsTF: "TF"}

// name is shorthand for an xml.Name.
func name(space, local string) xml.Name { return xml.Name{Space: space, Local: local} }

// clark renders a name in Clark notation ({ns}local), the key of stored
// properties.
func clark(n xml.Name) string { return "{" + n.Space + "}" + n.Local }

// parseClark is the inverse of clark.
func parseClark(s string) xml.Name {
	if rest, ok := strings.CutPrefix(s, "{"); ok {
		if ns, local, ok := strings.Cut(rest, "}"); ok {
			return name(ns, local)
		}
	}
	return name("", s)
}

// esc escapes text for XML content. A CR becomes &#13; so that it survives
// XML end-of-line normalisation: object data in reports stays byte-exact.
func esc(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		case '\r':
			b.WriteString("&#13;")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// open writes a start tag for n (prefixed when its namespace is known,
// else with its own default namespace declaration).
func open(b *bytes.Buffer, n xml.Name) {
	if p, ok := prefixes[n.Space]; ok {
		fmt.Fprintf(b, "<%s:%s>", p, n.Local)
		return
	}
	fmt.Fprintf(b, `<%s xmlns="%s">`, n.Local, esc(n.Space))
}

func closeTag(b *bytes.Buffer, n xml.Name) {
	if p, ok := prefixes[n.Space]; ok {
		fmt.Fprintf(b, "</%s:%s>", p, n.Local)
		return
	}
	fmt.Fprintf(b, "</%s>", n.Local)
}

// elem writes <n>inner</n> with inner raw XML ("" gives an empty element).
func elem(b *bytes.Buffer, n xml.Name, inner string) {
	if inner == "" {
		if p, ok := prefixes[n.Space]; ok {
			fmt.Fprintf(b, "<%s:%s/>", p, n.Local)
		} else {
			fmt.Fprintf(b, `<%s xmlns="%s"/>`, n.Local, esc(n.Space))
		}
		return
	}
	open(b, n)
	b.WriteString(inner)
	closeTag(b, n)
}

// x renders an element as a string (for nesting property values).
func x(n xml.Name, inner string) string {
	var b bytes.Buffer
	elem(&b, n, inner)
	return b.String()
}

// hrefXML renders <D:href>.
func hrefXML(h string) string { return x(name(nsDAV, "href"), esc(h)) }

// prop is one property in a response: its name and raw inner XML.
type prop struct {
	name  xml.Name
	inner string
}

// response is one <D:response> of a multistatus.
type response struct {
	href   string
	status int    // a response without properties (404 of a removed object)
	found  []prop // 200 OK
	missed []xml.Name
	failed []prop // other statuses (PROPPATCH)
	code   int    // status of failed
	errXML string // optional <D:error> content
}

func statusLine(code int) string { return fmt.Sprintf("HTTP/1.1 %d %s", code, http.StatusText(code)) }

// writeMultistatus writes a 207 multistatus with an optional sync token.
func writeMultistatus(w http.ResponseWriter, rs []response, syncToken string) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	b.WriteString(`<D:multistatus`)
	ns := make([]string, 0, len(prefixes))
	for n := range prefixes {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	for _, n := range ns {
		fmt.Fprintf(&b, ` xmlns:%s="%s"`, prefixes[n], n)
	}
	b.WriteString(">")
	for _, r := range rs {
		b.WriteString("<D:response>")
		b.WriteString(hrefXML(r.href))
		if r.status != 0 {
			elem(&b, name(nsDAV, "status"), statusLine(r.status))
		}
		writePropstat(&b, r.found, 200)
		var missing []prop
		for _, n := range r.missed {
			missing = append(missing, prop{name: n})
		}
		writePropstat(&b, missing, 404)
		writePropstat(&b, r.failed, r.code)
		if r.errXML != "" {
			elem(&b, name(nsDAV, "error"), r.errXML)
		}
		b.WriteString("</D:response>")
	}
	if syncToken != "" {
		elem(&b, name(nsDAV, "sync-token"), esc(syncToken))
	}
	b.WriteString("</D:multistatus>\n")
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(http.StatusMultiStatus)
	w.Write(b.Bytes())
}

func writePropstat(b *bytes.Buffer, ps []prop, code int) {
	if len(ps) == 0 {
		return
	}
	b.WriteString("<D:propstat><D:prop>")
	for _, p := range ps {
		elem(b, p.name, p.inner)
	}
	b.WriteString("</D:prop>")
	elem(b, name(nsDAV, "status"), statusLine(code))
	b.WriteString("</D:propstat>")
}

// node is a parsed XML element of a request body.
type node struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []node     `xml:",any"`
	Text     string     `xml:",chardata"`
}

// maxXMLBody bounds a request body of XML.
const maxXMLBody = 1 << 20

// readXML parses a request body; an empty body gives nil.
func readXML(r *http.Request) (*node, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxXMLBody+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxXMLBody {
		return nil, fmt.Errorf("the XML body is larger than %d bytes", maxXMLBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	var n node
	if err := xml.Unmarshal(body, &n); err != nil {
		return nil, fmt.Errorf("the XML body is malformed: %v", err)
	}
	return &n, nil
}

// child returns the first child with the name, or nil.
func (n *node) child(space, local string) *node {
	if n == nil {
		return nil
	}
	for i := range n.Children {
		if n.Children[i].XMLName.Space == space && n.Children[i].XMLName.Local == local {
			return &n.Children[i]
		}
	}
	return nil
}

// all returns the children with the name.
func (n *node) all(space, local string) []*node {
	var out []*node
	if n == nil {
		return nil
	}
	for i := range n.Children {
		if n.Children[i].XMLName.Space == space && n.Children[i].XMLName.Local == local {
			out = append(out, &n.Children[i])
		}
	}
	return out
}

// text returns the element's character data ("" for a nil element).
func (n *node) text() string {
	if n == nil {
		return ""
	}
	return n.Text
}

// attr returns an attribute's value.
func (n *node) attr(local string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == local && (a.Name.Space == "" || a.Name.Space == n.XMLName.Space) {
			return a.Value
		}
	}
	return ""
}

// serialize renders a node's content (children and text) back to XML with
// explicit namespace declarations, to store a dead property's value.
func (n *node) serialize() string {
	if len(n.Children) == 0 {
		return esc(n.Text)
	}
	var b bytes.Buffer
	for _, c := range n.Children {
		fmt.Fprintf(&b, `<%s xmlns="%s"`, c.XMLName.Local, esc(c.XMLName.Space))
		for _, a := range c.Attrs {
			if a.Name.Space == "" {
				fmt.Fprintf(&b, ` %s="%s"`, a.Name.Local, esc(a.Value))
			}
		}
		b.WriteString(">")
		b.WriteString(c.serialize())
		fmt.Fprintf(&b, "</%s>", c.XMLName.Local)
	}
	return b.String()
}
