package replication

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// APIPrefix is the path prefix of the replication API, version 1.
const APIPrefix = "/replication/v1/"

// ContentType is the media type of the bulk content stream.
const ContentType = "application/vnd.tenantferry.items"

// frameHeaderLen is the size of one frame header of the content stream:
// item id (8 bytes, big endian), size (8 bytes, big endian, -1 = missing),
// SHA-256 (32 raw bytes).
const frameHeaderLen = 48

// CheckReply answers GET {tenant}/check: the source tenant, once checks 1–3
// passed.
type CheckReply struct {
	TenantId      string
	TenantName    string
	InitialDomain string
	Domains       []string
	AppId         string
	OrgRel        string
}

// MailboxInfo is the source identity of a mailbox (Get-Mailbox fields) and
// its size.
type MailboxInfo struct {
	Id                   string
	RecipientType        string
	PrimarySmtpAddress   string
	Alias                string
	Name                 string
	DisplayName          string
	FirstName            string
	LastName             string
	ExchangeGuid         string
	ArchiveGuid          string `json:",omitempty"`
	LegacyExchangeDN     string
	EmailAddresses       []string
	ExternalEmailAddress string `json:",omitempty"`
	Items                int64
	Bytes                int64
	ArchiveItems         int64 `json:",omitempty"`
	ArchiveBytes         int64 `json:",omitempty"`
	// RecipientTypeDetails is SharedMailbox for a shared mailbox (empty or
	// UserMailbox otherwise); a completed move keeps it.
	RecipientTypeDetails string `json:",omitempty"`
	// Permissions are the mailbox permissions involving this mailbox (on
	// it, or held by it) whose other principal is in the grant's scope;
	// only the per-mailbox answer carries them, not the scope listing.
	Permissions []PermissionInfo `json:",omitempty"`
	// PermissionsOutOfScope counts the permissions involving this mailbox
	// whose other principal is outside the scope (not named).
	PermissionsOutOfScope int `json:",omitempty"`
}

// FreeBusyReply answers GET {tenant}/mailboxes/{id}/freebusy: the
// mailbox's free/busy times in the asked range, as an iCalendar object
// with one VFREEBUSY (RFC 5545 §3.6.4).
type FreeBusyReply struct {
	Calendar string
}

// MaxFreeBusyRange bounds the range of one free/busy request.
const MaxFreeBusyRange = 366 * 24 * time.Hour

// FreeBusySource is implemented by the native sources (HTTP client and
// in-process connector): free/busy coexistence during a migration.
type FreeBusySource interface {
	// FreeBusy returns the free/busy times between start and end of a
	// mailbox in the published scope (by address or GUID). The source's
	// RemoteOutbound relationship must have FreeBusyAccessEnabled
	// (FreeBusyNotShared otherwise). A read; nothing changes.
	FreeBusy(ctx context.Context, ref string, start, end time.Time) (*FreeBusyReply, error)
}

// PermissionInfo is one mailbox permission on the source: the user holds
// Right (FullAccess or SendAs) on the mailbox. Principals are named by
// ExchangeGuid (how the target maps them: its MailUsers are stamped with
// the source's ExchangeGuid) and by address (for the report).
type PermissionInfo struct {
	MailboxGuid    string
	MailboxAddress string
	UserGuid       string
	UserAddress    string
	Right          string
}

// StateReply answers GET .../state.
type StateReply struct {
	Guid          string
	Kind          string // primary | archive
	HighestModSeq int64
	Locked        bool
	Items         int64
	Bytes         int64
}

// FolderInfo is one folder of the source hierarchy.
type FolderInfo struct {
	Id         string
	ParentId   string
	Name       string
	Class      string
	SpecialUse string `json:",omitempty"`
	Deleted    bool   `json:",omitempty"`
	ModSeq     int64
	// Props are a calendar's or address book's collection properties.
	Props map[string]string `json:",omitempty"`
}

// FoldersReply answers GET .../folders?since=N.
type FoldersReply struct {
	State   int64
	Folders []FolderInfo
}

// ItemInfo is the metadata of one live item.
type ItemInfo struct {
	Id           int64
	Folder       string // folder Id
	Flags        []string
	InternalDate int64 // unix milliseconds
	Size         int64
	Sha256       string
	ModSeq       int64
	Subject      string `json:",omitempty"`
	// Name and ObjectUid are a calendar or contact object's resource name
	// and UID (empty for mail).
	Name      string `json:",omitempty"`
	ObjectUid string `json:",omitempty"`
}

// Cursor is a position in the item change feed: items with (ModSeq, Id)
// greater than it come next. Its text form is "MODSEQ.ID".
type Cursor struct {
	ModSeq int64
	Id     int64
}

// String renders the cursor as "MODSEQ.ID".
func (c Cursor) String() string { return fmt.Sprintf("%d.%d", c.ModSeq, c.Id) }

// MarshalText implements encoding.TextMarshaler.
func (c Cursor) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Cursor) UnmarshalText(b []byte) error {
	p, err := ParseCursor(string(b))
	*c = p
	return err
}

// ParseCursor parses "MODSEQ.ID" (or "" for the start).
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	a, b, ok := strings.Cut(s, ".")
	m, err1 := strconv.ParseInt(a, 10, 64)
	i, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || m < 0 || i < 0 {
		return Cursor{}, errs.Invalidf("InvalidCursor", "cursor %q is not MODSEQ.ID", s)
	}
	return Cursor{m, i}, nil
}

// ItemsReply answers GET .../items.
type ItemsReply struct {
	Items []ItemInfo
	Next  Cursor
	More  bool
}

// DeletionsReply answers GET .../deletions.
type DeletionsReply struct {
	Ids  []int64 // ids of items removed (not moved)
	Next Cursor  // tombstone cursor to continue from
	More bool
}

// ContentRequest is the body of POST .../content.
type ContentRequest struct {
	Ids []int64
}

// FolderManifest summarises one folder's content for verification.
type FolderManifest struct {
	Folder string // folder Id (on the target: the origin)
	Path   string
	Count  int64
	Bytes  int64
	// Digest is the hex SHA-256 of the sorted list of the folder's item
	// SHA-256 values (one per line): equal digests mean equal multisets of
	// content.
	Digest string
	// Hashes lists the item hashes when the caller asked for detail.
	Hashes []string `json:",omitempty"`
}

// ManifestReply answers GET .../manifest.
type ManifestReply struct {
	HighestModSeq int64
	Folders       []FolderManifest
}

// RegisterRequest is the body of PUT {tenant}/moves/{moveId}: the target
// registers its move of a source mailbox before the source lets it lock or
// finalize that mailbox.
type RegisterRequest struct {
	// Mailbox is the source mailbox (ExchangeGuid, address or alias).
	Mailbox string
	// TargetDeliveryDomain is the domain the converted source will
	// forward into: a domain of the target tenant (the token's tid) that
	// the source can verify.
	TargetDeliveryDomain string
}

// Registration is a registered move as the source records it.
type Registration struct {
	Id                   string // the source's id of the registration
	MoveId               string // the target's move request id
	Mailbox              string // the source mailbox's primary SMTP address
	ExchangeGuid         string
	AppId                string
	TargetTenantId       string
	TargetDeliveryDomain string
	State                string // Registered | Completed | Cancelled
	SourceLocked         bool   // this move holds the source's lock
	WhenCreated          time.Time
	WhenChanged          time.Time
}

// LockRequest is the body of POST .../lock and .../unlock.
type LockRequest struct {
	// MoveId is the target's move request id, as registered.
	MoveId string
}

// FinalizeRequest is the body of POST .../finalize.
type FinalizeRequest struct {
	// MoveId is the target's move request id, as registered.
	MoveId string
	// ExternalEmailAddress is the target's address in the target delivery
	// domain: the converted source MailUser forwards there.
	ExternalEmailAddress string
	// TargetLegacyExchangeDN is added to the source MailUser as an X500
	// proxy, so replies to old messages resolve.
	TargetLegacyExchangeDN string
}

// LockReply answers POST .../lock, .../unlock and .../finalize.
type LockReply struct {
	State         string
	HighestModSeq int64
	At            time.Time
}

// writeFrameHeader writes one frame header.
func writeFrameHeader(w io.Writer, id, size int64, sha []byte) error {
	var h [frameHeaderLen]byte
	binary.BigEndian.PutUint64(h[0:8], uint64(id))
	binary.BigEndian.PutUint64(h[8:16], uint64(size))
	copy(h[16:48], sha)
	_, err := w.Write(h[:])
	return err
}

// readFrameHeader reads one frame header.
func readFrameHeader(r io.Reader) (id, size int64, sha []byte, err error) {
	var h [frameHeaderLen]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return 0, 0, nil, err
	}
	return int64(binary.BigEndian.Uint64(h[0:8])), int64(binary.BigEndian.Uint64(h[8:16])), h[16:48], nil
}

// EncodeContent writes the frames of a content stream in the replication
// API's framed format (frame headers as above, then the raw bytes), until
// the stream ends with io.EOF. An error means the stream broke off; the
// client retries the chunk.
func EncodeContent(w io.Writer, s *ContentStream) error {
	for {
		f, err := s.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		sha := make([]byte, 32)
		if f.Size >= 0 {
			if sha, err = hex.DecodeString(f.SHA256); err != nil || len(sha) != 32 {
				return fmt.Errorf("item %d: stored SHA-256 %q is not 32 hex bytes", f.ID, f.SHA256)
			}
		}
		if err := writeFrameHeader(w, f.ID, f.Size, sha); err != nil {
			return err
		}
		if f.Size >= 0 {
			if n, err := io.Copy(w, f.Body); err != nil {
				return err
			} else if n != f.Size {
				return fmt.Errorf("item %d: %d bytes read, %d announced", f.ID, n, f.Size)
			}
		}
	}
}
