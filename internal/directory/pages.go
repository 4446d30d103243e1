package directory

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/tenantferry/tenantferry/internal/identity"
)

// Page sizes of the directory lists (tenants, recipients, group members).
const (
	// DefaultPageSize is the page size of a list request without a limit.
	DefaultPageSize = 100
	// MaxPageSize is the largest page a list request may ask for.
	MaxPageSize = 1000
)

// Page asks for one page of a list: at most Limit rows (0: DefaultPageSize)
// after the position Cursor names ("": from the start). Lists are keyset
// paginated on a stable, unique sort key (a tenant's name, a recipient's
// name, a member's id), never by offset: a page costs the same wherever it
// lies, and rows created or deleted meanwhile never shift the pages.
type Page struct {
	Limit  int
	Cursor string
	// Search narrows a recipient list (ListRecipientsPage; the other lists
	// ignore it) to the recipients whose name, alias, display name or one
	// of whose SMTP addresses contains the text, case-insensitively ("":
	// all). A cursor belongs to its search: it is refused with another.
	Search string
}

// MaxSearchLen bounds the text of a recipient search.
const MaxSearchLen = 256

// ParsePage reads the limit and cursor parameters of a list request
// (limit "": the default). A bad limit is ErrInvalidLimit; a cursor is
// checked by the list it is passed to.
func ParsePage(limit, cursor string) (Page, error) {
	p := Page{Cursor: strings.TrimSpace(cursor)}
	if limit = strings.TrimSpace(limit); limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil {
			return p, ErrInvalidLimit.Newf("limit %q is not a number", limit).WithObject(limit).
				WithHint("pass a limit from 1 to %d", MaxPageSize)
		}
		p.Limit = n
	}
	_, err := p.size()
	return p, err
}

// size is the page's row count, checked.
func (p Page) size() (int, error) {
	switch {
	case p.Limit == 0:
		return DefaultPageSize, nil
	case p.Limit < 0 || p.Limit > MaxPageSize:
		return 0, ErrInvalidLimit.Newf("limit %d is outside 1 to %d", p.Limit, MaxPageSize).WithObject(strconv.Itoa(p.Limit)).
			WithHint("pass a limit from 1 to %d and follow NextCursor for the rest", MaxPageSize)
	}
	return p.Limit, nil
}

// cursorState is what a cursor carries: the list it belongs to, the tenant
// of that list ("" for the tenant list) and the sort key of the last row
// returned. It is sealed (AES-GCM with a key derived from the server key):
// a client can neither read nor forge it, and a cursor of one tenant's list
// is refused on any other list.
type cursorState struct {
	List   string `json:"l"`
	Tenant string `json:"t"`
	After  string `json:"a"`
}

// cursorKey derives the key that seals cursors from the server key.
func (x *Directory) cursorKey() []byte {
	m := hmac.New(sha256.New, x.serverKey)
	m.Write([]byte("tenantferry list cursor v1"))
	return m.Sum(nil)
}

// encodeCursor returns the cursor of the position after the sort key after.
func (x *Directory) encodeCursor(list, tenantID, after string) (string, error) {
	b, err := json.Marshal(cursorState{List: list, Tenant: tenantID, After: after})
	if err != nil {
		return "", err
	}
	sealed, err := identity.Seal(x.cursorKey(), b)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// decodeCursor returns the sort key a cursor of the list names ("" for no
// cursor). A cursor that was not issued by this server, or for another list
// or another tenant, is ErrInvalidCursor (which never says whose it is).
func (x *Directory) decodeCursor(cursor, list, tenantID string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	bad := ErrInvalidCursor.Newf("the cursor is not one of this list").
		WithHint("pass the NextCursor of the previous page of the same list, or leave the cursor out to start from the first page")
	sealed, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", bad
	}
	b, err := identity.Open(x.cursorKey(), sealed)
	if err != nil {
		return "", bad
	}
	var c cursorState
	if json.Unmarshal(b, &c) != nil || c.List != list || c.Tenant != tenantID || c.After == "" {
		return "", bad
	}
	return c.After, nil
}

// typesKey names a recipient list by its types, in a fixed order.
func typesKey(types []RecipientType) string {
	ks := make([]string, len(types))
	for i, t := range types {
		ks[i] = string(t)
	}
	sort.Strings(ks)
	return "recipients:" + strings.Join(ks, ",")
}

// PageSize is the number of rows a page asks for, checked (ErrInvalidLimit
// outside 1 to MaxPageSize; 0 is DefaultPageSize).
func PageSize(p Page) (int, error) { return p.size() }

// SealCursor returns the cursor of the position after the sort key after
// in another package's list (list names it, e.g. "batch-users:ID"), sealed
// and bound to the tenant as the directory's own cursors are.
func (x *Directory) SealCursor(list, tenantID, after string) (string, error) {
	return x.encodeCursor(list, tenantID, after)
}

// OpenCursor returns the sort key a SealCursor cursor of the list names
// ("" for no cursor); any other cursor is ErrInvalidCursor.
func (x *Directory) OpenCursor(cursor, list, tenantID string) (string, error) {
	return x.decodeCursor(cursor, list, tenantID)
}
