package groupware

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// Kind is the kind of a collection.
type Kind int

// Collection kinds.
const (
	// KindCalendar is a calendar or task list (CalDAV).
	KindCalendar Kind = iota + 1
	// KindAddressBook is an address book (CardDAV).
	KindAddressBook
)

func (k Kind) String() string {
	if k == KindAddressBook {
		return "address book"
	}
	return "calendar"
}

// Property names (Clark notation) the core stores and interprets. Other
// properties a client sets are stored as given (dead properties).
const (
	PropDisplayName            = "{DAV:}displayname"
	PropCalendarDescription    = "{urn:ietf:params:xml:ns:caldav}calendar-description"
	PropCalendarTimezone       = "{urn:ietf:params:xml:ns:caldav}calendar-timezone"
	PropComponents             = "{urn:ietf:params:xml:ns:caldav}supported-calendar-component-set"
	PropAddressBookDescription = "{urn:ietf:params:xml:ns:carddav}addressbook-description"
	PropCalendarColor          = "{http://apple.com/ns/ical/}calendar-color"
	PropCalendarOrder          = "{http://apple.com/ns/ical/}calendar-order"
)

// Calendar component names a calendar collection may support.
const (
	CompEvent   = "VEVENT"
	CompTodo    = "VTODO"
	CompJournal = "VJOURNAL"
)

// Collection is a calendar, task list or address book of an account.
type Collection struct {
	Kind   Kind
	Name   string // the URL segment: the folder's name
	Folder mailstore.Folder
	// Props are the stored properties (see the Prop constants).
	Props map[string]string
}

// DisplayName is the collection's display name (its name when none is set).
func (c *Collection) DisplayName() string {
	if v := c.Props[PropDisplayName]; v != "" {
		return v
	}
	return c.Name
}

// Components are the calendar components a calendar accepts: the stored
// set, else VEVENT and VTODO for a calendar and VTODO for a task list.
func (c *Collection) Components() []string {
	if v := c.Props[PropComponents]; v != "" {
		return strings.Split(v, ",")
	}
	if c.Kind != KindCalendar {
		return nil
	}
	if c.Folder.Class == mailstore.ClassTask {
		return []string{CompTodo}
	}
	return []string{CompEvent, CompTodo}
}

// Supports reports whether a calendar accepts a component.
func (c *Collection) Supports(comp string) bool { return slices.Contains(c.Components(), comp) }

// kindOf returns the collection kind of a folder class, 0 for mail.
func kindOf(class string) Kind {
	switch class {
	case mailstore.ClassAppointment, mailstore.ClassTask:
		return KindCalendar
	case mailstore.ClassContact:
		return KindAddressBook
	}
	return 0
}

func collectionOf(f mailstore.Folder) Collection {
	return Collection{Kind: kindOf(f.Class), Name: f.Name, Folder: f, Props: f.Props}
}

// Collections lists the account's collections of a kind, by name.
func (s *Service) Collections(ctx context.Context, a *Account, kind Kind) ([]Collection, error) {
	fs, err := s.Store.ListFolders(ctx, a.Mailbox.ID, false)
	if err != nil {
		return nil, err
	}
	var out []Collection
	for _, f := range fs {
		if f.ParentID == "" && kindOf(f.Class) == kind {
			out = append(out, collectionOf(f))
		}
	}
	slices.SortFunc(out, func(x, y Collection) int { return strings.Compare(x.Name, y.Name) })
	return out, nil
}

// Collection returns the account's collection of a kind with exactly this
// name.
func (s *Service) Collection(ctx context.Context, a *Account, kind Kind, name string) (*Collection, error) {
	cs, err := s.Collections(ctx, a, kind)
	if err != nil {
		return nil, err
	}
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i], nil
		}
	}
	return nil, ErrCollectionNotFound.Newf("%s has no %s %q", a.Address(), kind, name).WithObject(name).
		WithHint("list the %ss of the account to see their names", kind)
}

// NewCollection describes a collection to create.
type NewCollection struct {
	Kind Kind
	Name string
	// Props are the initial properties (display name, description,
	// colour, supported components for a calendar, dead properties).
	Props map[string]string
}

// CreateCollection creates a calendar (MKCALENDAR) or an address book
// (extended MKCOL). A calendar supporting only VTODO is a task list (folder
// class IPF.Task). The name must be free among all the mailbox's
// root folders.
func (s *Service) CreateCollection(ctx context.Context, a *Account, nc NewCollection) (*Collection, error) {
	if err := validCollectionName(nc.Name); err != nil {
		return nil, err
	}
	props, err := cleanProps(nc.Kind, nc.Props)
	if err != nil {
		return nil, err
	}
	class := mailstore.ClassContact
	if nc.Kind == KindCalendar {
		class = mailstore.ClassAppointment
		if props[PropComponents] == CompTodo {
			class = mailstore.ClassTask
		}
	}
	f, err := s.Store.CreateFolder(ctx, a.Mailbox.ID, nc.Name, mailstore.FolderOptions{Class: class, Props: props})
	if errors.Is(err, mailstore.ErrFolderExists) {
		return nil, ErrCollectionExists.Newf("%s already has a folder or collection named %q", a.Address(), nc.Name).WithObject(nc.Name).
			WithHint("choose another name")
	}
	if err != nil {
		return nil, err
	}
	c := collectionOf(*f)
	return &c, nil
}

// validCollectionName checks a new collection's name (one URL segment,
// one folder name).
func validCollectionName(name string) error {
	bad := name == "" || len(name) > 255 || !utf8.ValidString(name) || strings.ContainsAny(name, "/\\*%") ||
		strings.HasPrefix(name, ".") || strings.TrimSpace(name) != name
	for _, r := range name {
		bad = bad || r < 0x20 || r == 0x7f
	}
	if bad {
		return ErrInvalidCollection.Newf("%q is not a valid collection name", name).WithObject(name).
			WithHint("use 1-255 characters of UTF-8 text without '/', '\\', '*', '%%', control characters or a leading '.'")
	}
	return nil
}

// cleanProps validates the properties a client sets on a collection of a
// kind and normalises the component set.
func cleanProps(kind Kind, in map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range in {
		if k == "" || len(k) > 512 || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, ErrInvalidCollection.Newf("property %q is not valid UTF-8 text", k).WithHint("send UTF-8 property names and values")
		}
		out[k] = v
	}
	if v, ok := out[PropComponents]; ok && v != "" {
		if kind != KindCalendar {
			return nil, ErrInvalidCollection.Newf("an address book has no calendar components").WithObject(PropComponents)
		}
		var comps []string
		for _, c := range strings.Split(v, ",") {
			c = strings.ToUpper(strings.TrimSpace(c))
			if c != CompEvent && c != CompTodo && c != CompJournal {
				return nil, ErrInvalidCollection.Newf("calendar component %q is not supported", c).WithObject(c).
					WithHint("use VEVENT, VTODO and/or VJOURNAL")
			}
			if !slices.Contains(comps, c) {
				comps = append(comps, c)
			}
		}
		slices.Sort(comps)
		out[PropComponents] = strings.Join(comps, ",")
	}
	return out, nil
}

// SetCollectionProps sets ("" removes) properties of a collection
// (PROPPATCH). The supported component set can only be set at creation.
func (s *Service) SetCollectionProps(ctx context.Context, a *Account, c *Collection, set map[string]string) (*Collection, error) {
	if _, ok := set[PropComponents]; ok {
		return nil, ErrInvalidCollection.Newf("the supported components of %q cannot be changed", c.Name).WithObject(PropComponents).
			WithHint("create a new calendar with the components you need")
	}
	props, err := cleanProps(c.Kind, set)
	if err != nil {
		return nil, err
	}
	for k := range set {
		if _, ok := props[k]; !ok {
			props[k] = ""
		}
	}
	f, err := s.Store.SetFolderProps(ctx, a.Mailbox.ID, c.Folder.ID, props)
	if err != nil {
		return nil, err
	}
	nc := collectionOf(*f)
	return &nc, nil
}

// isDefault reports whether a collection is one of the mailbox's default
// folders (Calendar, Contacts, Tasks).
func isDefault(c *Collection) bool {
	for _, d := range mailstore.DefaultFolders {
		if d.Class == c.Folder.Class && strings.EqualFold(d.Name, c.Name) {
			return true
		}
	}
	return false
}

// DeleteCollection deletes a collection with its objects (each leaves a
// tombstone). The default collections cannot be deleted.
func (s *Service) DeleteCollection(ctx context.Context, a *Account, c *Collection) error {
	if isDefault(c) {
		return ErrDefaultCollection.Newf("%q is a default %s of %s and cannot be deleted", c.Name, c.Kind, a.Address()).WithObject(c.Name).
			WithHint("delete its objects instead, or create and use another %s", c.Kind)
	}
	return s.Store.DeleteFolder(ctx, a.Mailbox.ID, c.Folder.ID)
}

// syncTokenPrefix starts every sync token (RFC 6578 wants a URI).
const syncTokenPrefix = "urn:x-tenantferry:sync:"

// SyncToken renders the sync token of a collection at a MODSEQ.
func SyncToken(c *Collection, modseq int64) string {
	return fmt.Sprintf("%s%d-%d", syncTokenPrefix, c.Folder.UIDValidity, modseq)
}

// parseSyncToken returns the MODSEQ of a token of the collection.
func parseSyncToken(c *Collection, tok string) (int64, error) {
	bad := ErrInvalidSyncToken.Newf("sync token %q is not valid for %q", tok, c.Name).WithObject(tok).
		WithHint("synchronise the collection again without a token")
	rest, ok := strings.CutPrefix(tok, syncTokenPrefix)
	if !ok {
		return 0, bad
	}
	uv, ms, ok := strings.Cut(rest, "-")
	u, err1 := strconv.ParseUint(uv, 10, 32)
	m, err2 := strconv.ParseInt(ms, 10, 64)
	if !ok || err1 != nil || err2 != nil || uint32(u) != c.Folder.UIDValidity || m < 0 {
		return 0, bad
	}
	return m, nil
}

// CollectionToken returns a collection's current sync token (also its
// CTag).
func (s *Service) CollectionToken(ctx context.Context, a *Account, c *Collection) (string, error) {
	m, err := s.Store.FolderToken(ctx, a.Mailbox.ID, c.Folder.ID)
	if err != nil {
		return "", err
	}
	return SyncToken(c, m), nil
}
