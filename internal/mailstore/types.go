package mailstore

import (
	"math"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// MailboxKind is primary or archive.
type MailboxKind string

// Mailbox kinds.
const (
	KindPrimary MailboxKind = "primary"
	KindArchive MailboxKind = "archive"
)

// MailboxState is the lifecycle state of a mailbox.
type MailboxState string

// Mailbox states.
const (
	// StateActive is a normal, writable mailbox.
	StateActive MailboxState = "active"
	// StateLocked refuses mutations (a move is completing); reads work.
	StateLocked MailboxState = "locked"
	// StateStaging is the writable, not yet active target of a move.
	StateStaging MailboxState = "staging"
	// StateRetired is a moved-away source kept for retention; read-only.
	StateRetired MailboxState = "retired"
)

// Folder classes (Exchange folder types). The IMAP layer shows only ClassNote.
const (
	ClassNote        = "IPF.Note"
	ClassAppointment = "IPF.Appointment"
	ClassContact     = "IPF.Contact"
	ClassTask        = "IPF.Task"
)

// Special-use attributes (RFC 6154) a folder may carry.
const (
	UseInbox   = `\Inbox`
	UseSent    = `\Sent`
	UseDrafts  = `\Drafts`
	UseTrash   = `\Trash`
	UseJunk    = `\Junk`
	UseArchive = `\Archive`
)

// Delimiter separates the names in a folder path.
const Delimiter = "/"

// DefaultMaxItemSize is the default Store.MaxItemSize (150 MiB).
const DefaultMaxItemSize = 150 << 20

// Mailbox is a tenant's mailbox (primary or archive).
type Mailbox struct {
	ID        int64        // internal row id (this server only)
	TenantID  string       // owning tenant
	GUID      string       // ExchangeGuid or ArchiveGuid, lower case
	Kind      MailboxKind  // primary or archive
	State     MailboxState // lifecycle state
	ModSeq    int64        // highest MODSEQ
	CreatedAt time.Time    // creation time
}

// Folder is a folder of a mailbox.
type Folder struct {
	ID          int64     // internal row id (this server only)
	MailboxID   int64     // owning mailbox
	StableID    string    // never changes, survives renames
	ParentID    string    // StableID of the parent, "" for a root folder
	Name        string    // last path component
	Path        string    // full path, Delimiter-separated
	Class       string    // ClassNote, ClassAppointment, ...
	SpecialUse  string    // UseInbox, ... or ""
	UIDValidity uint32    // IMAP UIDVALIDITY, new for every new folder
	UIDNext     uint32    // next UID to assign; only grows
	ModSeq      int64     // MODSEQ of the folder's last hierarchy change
	Deleted     bool      // a tombstone: the folder was deleted at ModSeq
	Subscribed  bool      // shown by IMAP LSUB / LIST (SUBSCRIBED)
	Origin      string    // source folder id when created by replication
	CreatedAt   time.Time // creation time
	// Props are the folder's collection properties (CalDAV/CardDAV display
	// name, colour, ...), keyed by property name; nil when it has none.
	// They replicate with the folder. Shared: do not modify.
	Props map[string]string
	// Counts is filled by ListFolders(withCounts) and Stats only.
	Counts Counts
}

// Counts are the totals of a folder or mailbox.
type Counts struct {
	Messages int64 // number of items
	Bytes    int64 // total size of their raw bytes
	Unseen   int64 // items without \Seen
}

// Item is an item's metadata.
type Item struct {
	ID           int64     // stable item id, never reused
	MailboxID    int64     // owning mailbox
	FolderID     int64     // current folder (internal id)
	UID          uint32    // UID in the current folder
	ModSeq       int64     // MODSEQ of the last change
	Flags        []string  // normalized (see NormalizeFlags)
	InternalDate time.Time // IMAP internal date
	Size         int64     // size of the raw bytes
	SHA256       string    // hex SHA-256 of the raw bytes
	Origin       string    // idempotency key, "" if none
	Subject      string    // decoded, for display and search
	MessageID    string    // Message-ID as indexed
	From         string    // decoded From header
	SentDate     time.Time // Date header, zero if none
	CreatedAt    time.Time // when it was saved into its current folder (stored, copied or moved there): the IMAP save date (RFC 8514)
	// Name is the item's resource name in its folder (the last URL
	// segment of a CalDAV/CardDAV object), "" for mail.
	Name string
	// ObjectUID is the UID of a calendar or contact object, "" for mail.
	ObjectUID string
}

// Cursor is a resumable position in a change feed (ItemChanges,
// Tombstones). Cursor{ModSeq: m} (ID 0) means every change up to and
// including MODSEQ m was delivered, so Cursor{ModSeq: since} starts "changes
// since"; the zero Cursor is the beginning. A cursor with ID > 0 is a
// position inside MODSEQ m (an operation larger than one page): changes at m
// with ids up to ID were delivered. Consumers store the cursor a call
// returns and pass it back; a finished pass returns Cursor{ModSeq: upto}.
type Cursor struct {
	ModSeq int64 // everything up to this MODSEQ (or inside it, see ID) is delivered
	ID     int64 // 0, or the last id delivered inside ModSeq
}

// after returns the (modseq, id) bound for "strictly after the cursor".
func (c Cursor) after() (int64, int64) {
	if c.ID == 0 {
		return c.ModSeq, math.MaxInt64
	}
	return c.ModSeq, c.ID
}

// UIDRange is an inclusive range of UIDs. Stop 0 means no upper bound
// (IMAP "*" once the IMAP layer has resolved its quirks).
type UIDRange struct {
	Start uint32 // first UID
	Stop  uint32 // last UID, 0 for no bound
}

// UIDSet is a set of UID ranges.
type UIDSet []UIDRange

// AllUIDs is the set of every UID (1:*).
var AllUIDs = UIDSet{{Start: 1, Stop: 0}}

// UIDs returns a set holding exactly the given UIDs.
func UIDs(uids ...uint32) UIDSet {
	s := make(UIDSet, len(uids))
	for i, u := range uids {
		s[i] = UIDRange{u, u}
	}
	return s
}

// Contains reports whether uid is in the set.
func (s UIDSet) Contains(uid uint32) bool {
	for _, r := range s {
		if uid >= r.Start && (r.Stop == 0 || uid <= r.Stop) {
			return true
		}
	}
	return false
}

// bounds returns the smallest and largest UID the set can contain.
func (s UIDSet) bounds() (lo, hi uint32) {
	if len(s) == 0 {
		return 1, 0
	}
	lo, hi = ^uint32(0), 0
	for _, r := range s {
		a, b := r.Start, r.Stop
		if b == 0 {
			b = ^uint32(0)
		}
		if a > b {
			a, b = b, a
		}
		lo, hi = min(lo, a), max(hi, b)
	}
	return lo, hi
}

func errMailboxNotFound(id string) *errs.Error {
	return ErrMailboxNotFound.Newf("mailbox %s does not exist on this server", id).WithObject(id).
		WithHint("check the mailbox GUID and tenant; a mailbox is created when its user is created or a move starts")
}

func errFolderNotFound(what string) *errs.Error {
	return ErrFolderNotFound.Newf("folder %q does not exist", what).WithObject(what).
		WithHint("list the folders of the mailbox to see the valid names")
}

func errFolderExists(path string) *errs.Error {
	return ErrFolderExists.Newf("a folder named %q already exists", path).WithObject(path).
		WithHint("choose another name, or rename or delete the existing folder first")
}

// errFolderOriginExists: the folder at holder ("" when not known)
// already replicates source folder origin.
func errFolderOriginExists(origin, holder string) *errs.Error {
	if holder == "" {
		return ErrFolderOriginExists.Newf("another folder already replicates source folder %s", origin).WithObject(origin)
	}
	return ErrFolderOriginExists.Newf("folder %q already replicates source folder %s", holder, origin).WithObject(origin)
}

// errSpecialUseTaken: the folder at path cannot take special use use,
// which another folder has.
func errSpecialUseTaken(path, use string) *errs.Error {
	return ErrSpecialUseTaken.Newf("another folder already has the special use %s", use).
		WithObject(path).WithHint("create the folder without a special use, or remove it from the other folder")
}

func errInvalidName(path, why string) *errs.Error {
	return errs.Invalidf("InvalidFolderName", "folder name %q is not valid: %s", path, why).WithObject(path).
		WithHint("use 1-255 printable characters per level, no '/' inside a name, no '*' or '%%'")
}

func errItemTooLarge(limit int64) *errs.Error {
	e := errs.New(errs.TooLarge, "ItemTooLarge", "the message exceeds the maximum item size of %d bytes", limit)
	return e.WithHint("raise the maximum item size, or skip the item (it is listed as a skipped item)")
}

func lockedError(mb string, state MailboxState) *errs.Error {
	if state == StateRetired {
		return errs.Conflictf("MailboxRetired", "mailbox %s was moved away and is read-only", mb).WithObject(mb).
			WithHint("the mailbox now lives in its target tenant; connect there")
	}
	return errs.Conflictf("MailboxLocked", "mailbox %s is locked while its move completes", mb).WithObject(mb).
		WithHint("retry in a few seconds; the mailbox becomes available at its new location when the move completes")
}

// normalizeGUID lower-cases a GUID and strips braces.
func normalizeGUID(g string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(g), "{}"))
}
