// Package groupware is the core of calendars, task lists and address books:
// what a valid calendar or contact object is, which collections a mailbox
// has, who may open them, and the queries CalDAV and CardDAV need (time
// ranges with recurrence expansion, free-busy, contact filters). The
// protocol adapter (internal/dav) only translates HTTP/XML to calls here.
//
// A collection is a root-level folder of a mailbox: class IPF.Appointment
// or IPF.Task is a calendar (Tasks holds VTODO), IPF.Contact an address
// book. Its name is the folder name, its properties (display name, colour,
// supported components, ...) are the folder's properties. An object is a
// named item of that folder (see mailstore's named items), so objects share
// the blob store, MODSEQ change feed and tombstones with mail and a move
// carries them without a second mechanism.
//
// Invariants:
//   - Object bytes are stored exactly as the client sent them, and come
//     back exactly so; they are parsed only to validate and index (UID,
//     component type, summary) and to answer queries.
//   - Only valid objects are stored: UTF-8 text without control
//     characters, one iCalendar object with one component type (besides
//     VTIMEZONE) and one UID and no METHOD (RFC 4791 §4.1), or one vCard;
//     within the collection's size limit and supported components. A
//     refused object writes nothing.
//   - Within a collection, resource names and object UIDs are unique
//     (RFC 4791 §5.3.2.1 no-uid-conflict, RFC 6352 §6.3.2.1).
//   - An object's ETag is derived from its item id and MODSEQ, a
//     collection's sync token from its folder's UIDVALIDITY and latest
//     MODSEQ; a token whose changes are no longer recorded is refused, so
//     the client resynchronises from scratch.
//   - A user reaches a mailbox's collections only through Open, which
//     admits the mailbox's owner and delegates of the same tenant with
//     FullAccess (see Service.access); every other request looks like a
//     mailbox that does not exist, whatever tenant it names.
package groupware

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// Errors of the groupware core. Adapters map them to protocol replies
// with errors.Is.
var (
	// ErrAuthFailed: unknown user, wrong password, or a recipient without
	// a mailbox of its own.
	ErrAuthFailed = errs.Sentinel(errs.Unauthorized, "AuthenticationFailed")
	// ErrPrincipalNotFound: no mailbox with that address that the user
	// may open (another tenant's mailboxes look the same as none).
	ErrPrincipalNotFound = errs.Sentinel(errs.NotFound, "PrincipalNotFound")
	// ErrCollectionNotFound: no such calendar or address book.
	ErrCollectionNotFound = errs.Sentinel(errs.NotFound, "CollectionNotFound")
	// ErrCollectionExists: the name is taken (by any folder).
	ErrCollectionExists = errs.Sentinel(errs.Conflict, "CollectionExists")
	// ErrDefaultCollection: the default Calendar, Tasks and Contacts
	// collections cannot be deleted.
	ErrDefaultCollection = errs.Sentinel(errs.Forbidden, "DefaultCollection")
	// ErrInvalidCollection: a collection name or property is not valid.
	ErrInvalidCollection = errs.Sentinel(errs.Invalid, "InvalidCollection")
	// ErrObjectNotFound: no such object in the collection.
	ErrObjectNotFound = errs.Sentinel(errs.NotFound, "ObjectNotFound")
	// ErrPreconditionFailed: an If-Match / If-None-Match condition does
	// not hold (HTTP 412).
	ErrPreconditionFailed = errs.Sentinel(errs.Conflict, "PreconditionFailed")
	// ErrInvalidSyncToken: a sync token that is malformed, of another
	// collection, or older than the recorded changes.
	ErrInvalidSyncToken = errs.Sentinel(errs.Forbidden, "InvalidSyncToken")
)

// Service is the groupware core over the directory and the mailbox store.
// It is safe for concurrent use.
type Service struct {
	Dir   *directory.Directory
	Store *mailstore.Store
	// MaxObjectSize is the largest object accepted (DefaultMaxObjectSize
	// when 0).
	MaxObjectSize int64

	logins loginCache
}

// loginCache remembers recent successful logins, so that a client sending
// Basic credentials with each of its many requests does not pay for a
// password hash (argon2id) each time. An entry is keyed by a hash of the
// login name and password and holds the recipient's id and last update
// time: any change of the recipient (a new password) invalidates it.
type loginCache struct {
	mu sync.Mutex
	m  map[[32]byte]loginEntry
}

type loginEntry struct {
	recipientID string
	updated     time.Time
	expires     time.Time
}

// loginTTL bounds how long a cached login is trusted without a password
// check.
const loginTTL = 5 * time.Minute

func loginKey(username, password string) [32]byte {
	return sha256.Sum256([]byte(strings.ToLower(username) + "\x00" + password))
}

func (c *loginCache) ok(k [32]byte, r *directory.Recipient) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, found := c.m[k]
	if !found || time.Now().After(e.expires) {
		delete(c.m, k)
		return false
	}
	return e.recipientID == r.ID && e.updated.Equal(r.UpdatedAt)
}

func (c *loginCache) put(k [32]byte, r *directory.Recipient) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 10000 {
		c.m = map[[32]byte]loginEntry{}
	}
	c.m[k] = loginEntry{recipientID: r.ID, updated: r.UpdatedAt, expires: time.Now().Add(loginTTL)}
}

// DefaultMaxObjectSize is the default limit of one calendar or contact
// object (contacts with photos are the large ones).
const DefaultMaxObjectSize = 10 << 20

// MaxSize returns the effective object size limit.
func (s *Service) MaxSize() int64 {
	if s.MaxObjectSize > 0 {
		return s.MaxObjectSize
	}
	return DefaultMaxObjectSize
}

// User is an authenticated user.
type User struct {
	Recipient *directory.Recipient
}

// Address returns the user's primary SMTP address.
func (u *User) Address() string { return u.Recipient.PrimarySmtpAddress }

// Account is a mailbox a user opened: its owner and its store mailbox.
type Account struct {
	Owner   *directory.Recipient
	Mailbox *mailstore.Mailbox
	// Access is what the user may do.
	Access Access
}

// Address returns the account owner's primary SMTP address.
func (a *Account) Address() string { return a.Owner.PrimarySmtpAddress }

// Access is what a user may do in an account.
type Access int

// Access levels.
const (
	// AccessNone: the account is invisible.
	AccessNone Access = iota
	// AccessFull: read and write everything (the owner; a delegate with
	// the FullAccess permission).
	AccessFull
	// AccessFreeBusy: free/busy times only (any user of the same tenant,
	// as Exchange shows colleagues' availability); see OpenFreeBusy.
	AccessFreeBusy
)

// hasGroupware reports whether a recipient owns calendars and contacts: a
// UserMailbox (user or shared) with its mailbox GUID.
func hasGroupware(r *directory.Recipient) bool {
	return r != nil && r.Type == directory.UserMailbox && r.ExchangeGuid != ""
}

// Authenticate checks a login with the directory's one login rule
// (directory.Login), remembering recent successes. Every failure is
// ErrAuthFailed.
func (s *Service) Authenticate(ctx context.Context, username, password string) (*User, error) {
	k := loginKey(username, password)
	if r, err := s.Dir.ResolveAddress(ctx, username); err == nil && hasGroupware(r) && s.logins.ok(k, r) {
		return &User{Recipient: r}, nil // verified moments ago (clients send credentials with every request)
	}
	r, err := s.Dir.Login(ctx, username, password)
	if errors.Is(err, directory.ErrLoginFailed) {
		return nil, ErrAuthFailed.Newf("login as %q failed", username).WithObject(username).
			WithHint("log in with the mailbox's e-mail address and password")
	}
	if err != nil {
		return nil, err
	}
	s.logins.put(k, r)
	return &User{Recipient: r}, nil
}

// access decides what u may do in the mailbox of owner: the owner, and a
// user of the same tenant holding the FullAccess permission on it
// (Add-MailboxPermission), have AccessFull; everyone else AccessNone.
// SendAs opens nothing.
func (s *Service) access(ctx context.Context, u *User, owner *directory.Recipient) (Access, error) {
	if u == nil || owner == nil || u.Recipient.TenantID != owner.TenantID {
		return AccessNone, nil
	}
	if u.Recipient.ID == owner.ID {
		return AccessFull, nil
	}
	ok, err := s.Dir.HasPermission(ctx, owner.TenantID, owner.ID, u.Recipient.ID, directory.FullAccess)
	if err != nil {
		return AccessNone, errs.Internalf(err, "check FullAccess of %s on %s", u.Recipient.PrimarySmtpAddress, owner.PrimarySmtpAddress)
	}
	if ok {
		return AccessFull, nil
	}
	return AccessNone, nil
}

// Open resolves address (any SMTP address of a mailbox, any case) to an
// account the user may open, creating the mailbox's store with its default
// folders on first use. Anything else is ErrPrincipalNotFound.
func (s *Service) Open(ctx context.Context, u *User, address string) (*Account, error) {
	notFound := ErrPrincipalNotFound.Newf("no calendars or address books for %q", address).WithObject(address).
		WithHint("use the e-mail address of your own mailbox")
	if address == "" || strings.ContainsAny(address, "/\x00") {
		return nil, notFound
	}
	owner, err := s.Dir.ResolveAddress(ctx, address)
	if err != nil {
		return nil, errs.Internalf(err, "resolve %s", address)
	}
	if !hasGroupware(owner) {
		return nil, notFound
	}
	acc, err := s.access(ctx, u, owner)
	if err != nil {
		return nil, err
	}
	if acc == AccessNone {
		return nil, notFound
	}
	mb, err := s.mailbox(ctx, owner)
	if err != nil {
		return nil, err
	}
	return &Account{Owner: owner, Mailbox: mb, Access: acc}, nil
}

// OpenFreeBusy opens a mailbox of the user's tenant for free/busy queries
// only (AccessFreeBusy): the caller must use the account for FreeBusy and
// AccountFreeBusy and nothing else. Another tenant's mailbox, or an
// address that is no mailbox, is ErrPrincipalNotFound.
func (s *Service) OpenFreeBusy(ctx context.Context, u *User, address string) (*Account, error) {
	notFound := ErrPrincipalNotFound.Newf("no calendars for %q", address).WithObject(address)
	owner, err := s.Dir.ResolveAddress(ctx, address)
	if err != nil {
		return nil, errs.Internalf(err, "resolve %s", address)
	}
	if u == nil || !hasGroupware(owner) || owner.TenantID != u.Recipient.TenantID {
		return nil, notFound
	}
	mb, err := s.mailbox(ctx, owner)
	if err != nil {
		return nil, err
	}
	return &Account{Owner: owner, Mailbox: mb, Access: AccessFreeBusy}, nil
}

// OwnerAccount opens a mailbox's account on its owner's behalf, for a
// service of this server that acts for the owner (the migration of a
// user's groupware into its mailbox): no login and no permission check, so
// callers must have authorized the owner themselves.
func (s *Service) OwnerAccount(ctx context.Context, owner *directory.Recipient) (*Account, error) {
	if !hasGroupware(owner) {
		return nil, ErrPrincipalNotFound.Newf("%s has no mailbox for calendars and address books", owner.PrimarySmtpAddress).WithObject(owner.PrimarySmtpAddress)
	}
	mb, err := s.mailbox(ctx, owner)
	if err != nil {
		return nil, err
	}
	return &Account{Owner: owner, Mailbox: mb, Access: AccessFull}, nil
}

// mailbox returns the owner's primary mailbox, creating it with the default
// folders if it does not exist yet (as IMAP does on first login).
func (s *Service) mailbox(ctx context.Context, r *directory.Recipient) (*mailstore.Mailbox, error) {
	mb, err := s.Store.Mailbox(ctx, r.TenantID, r.ExchangeGuid)
	if !errors.Is(err, mailstore.ErrMailboxNotFound) {
		return mb, err
	}
	mb, err = s.Store.CreateMailbox(ctx, mailstore.NewMailbox{TenantID: r.TenantID, GUID: r.ExchangeGuid, DefaultFolders: true})
	if errors.Is(err, mailstore.ErrMailboxExists) { // created concurrently
		return s.Store.Mailbox(ctx, r.TenantID, r.ExchangeGuid)
	}
	return mb, err
}

// isNotFound reports a mailstore "not there" error.
func isNotFound(err error) bool {
	return errors.Is(err, mailstore.ErrItemNotFound) || errors.Is(err, mailstore.ErrFolderNotFound)
}
