package dav

import (
	"net/url"
	"strings"

	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/groupware"
)

// ErrInvalidPath: a DAV URL with an empty, "." or ".." segment, an encoded
// slash or NUL, or outside /dav/.
var ErrInvalidPath = errs.Sentinel(errs.Invalid, "InvalidPath")

// Prefix is where the DAV tree is served.
const Prefix = "/dav/"

// resKind is the kind of resource a URL names.
type resKind int

const (
	resRoot       resKind = iota // /dav/
	resPrincipals                // /dav/principals/
	resPrincipal                 // /dav/principals/{address}/
	resHomes                     // /dav/calendars/ or /dav/addressbooks/
	resHome                      // /dav/calendars/{address}/
	resCollection                // /dav/calendars/{address}/{name}/
	resObject                    // /dav/calendars/{address}/{name}/{object}
)

// target is a parsed DAV URL.
type target struct {
	kind resKind
	tree groupware.Kind // calendars or address books (homes and below)
	addr string         // the address segment, decoded, as the client wrote it
	coll string         // collection name, decoded
	obj  string         // object name, decoded
}

// treeName is the URL segment of a tree.
func treeName(k groupware.Kind) string {
	if k == groupware.KindAddressBook {
		return "addressbooks"
	}
	return "calendars"
}

// parseTarget parses an escaped request path below Prefix. Each segment
// is decoded on its own, so an encoded slash never splits or joins
// segments; ".", ".." and empty segments are refused.
func parseTarget(escaped string) (*target, error) {
	bad := func(why string) error {
		return ErrInvalidPath.Newf("%s: %s", escaped, why).WithObject(escaped).
			WithHint("use /dav/principals/ADDRESS/, /dav/calendars/ADDRESS/NAME/ or /dav/addressbooks/ADDRESS/NAME/")
	}
	rest, ok := strings.CutPrefix(escaped, strings.TrimSuffix(Prefix, "/"))
	if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
		return nil, bad("not below " + Prefix)
	}
	rest = strings.TrimPrefix(rest, "/")
	rest = strings.TrimSuffix(rest, "/")
	var segs []string
	if rest != "" {
		for _, raw := range strings.Split(rest, "/") {
			s, err := url.PathUnescape(raw)
			if err != nil {
				return nil, bad("a segment is not valid percent-encoding")
			}
			if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\\\x00") {
				return nil, bad("empty, dot, slash or NUL path segments are not allowed")
			}
			segs = append(segs, s)
		}
	}
	t := &target{}
	if len(segs) == 0 {
		return t, nil
	}
	switch segs[0] {
	case "principals":
		if len(segs) > 2 {
			return nil, bad("a principal has no members")
		}
		t.kind = resPrincipals
		if len(segs) == 2 {
			t.kind, t.addr = resPrincipal, segs[1]
		}
		return t, nil
	case "calendars":
		t.tree = groupware.KindCalendar
	case "addressbooks":
		t.tree = groupware.KindAddressBook
	default:
		return nil, bad("unknown tree " + segs[0])
	}
	if len(segs) > 4 {
		return nil, bad("too many segments")
	}
	t.kind = resHomes + resKind(len(segs)-1)
	if len(segs) > 1 {
		t.addr = segs[1]
	}
	if len(segs) > 2 {
		t.coll = segs[2]
	}
	if len(segs) > 3 {
		t.obj = segs[3]
	}
	return t, nil
}

// Hrefs of the tree. Segments are percent-encoded; collections end in /.

func principalHref(addr string) string { return Prefix + "principals/" + url.PathEscape(addr) + "/" }

func homeHref(tree groupware.Kind, addr string) string {
	return Prefix + treeName(tree) + "/" + url.PathEscape(addr) + "/"
}

func collectionHref(tree groupware.Kind, addr, coll string) string {
	return homeHref(tree, addr) + url.PathEscape(coll) + "/"
}

func objectHref(tree groupware.Kind, addr, coll, obj string) string {
	return collectionHref(tree, addr, coll) + url.PathEscape(obj)
}
