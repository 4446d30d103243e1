package replication

import (
	"context"

	"github.com/tenantferry/tenantferry/internal/db"
)

// Source is what the engine reads from: one source mailbox's change feed
// and content, addressed by the mailbox's GUID (ExchangeGuid or
// ArchiveGuid). The native Client (a tenantferry source over HTTP), the
// in-process connector of internal/migration/source and the IMAP connector
// (internal/replication/imapsrc) implement it.
//
// A Source never changes the source mailbox: every method is a read, safe
// to repeat and to call concurrently. Errors are *errs.Error; a temporary
// failure (Kind Unavailable or Internal) means "retry the pass later", any
// other kind is permanent for the move.
type Source interface {
	// State returns the mailbox's current change state. Its HighestModSeq
	// is the upper bound of a pass: every change with a MODSEQ at or below
	// it is visible to the feeds below from the moment State returns.
	State(ctx context.Context, guid string) (*StateReply, error)
	// Folders returns every folder whose place in the hierarchy (name,
	// parent, existence) changed after MODSEQ since (0: every folder),
	// deleted folders included, and the state to pass as since next time.
	// Parents are not guaranteed to come before their children.
	Folders(ctx context.Context, guid string, since int64) (*FoldersReply, error)
	// Items returns live items with (ModSeq, Id) after the cursor and
	// ModSeq ≤ upto, ordered by (ModSeq, Id), at most limit of them. An
	// item moved to another folder comes again with the same Id and its new
	// folder. Next is the cursor to continue from; More is false on the
	// last page. Items larger than detailOver (when > 0) carry their
	// Subject. Replaying a page is harmless: the engine keys writes by Id.
	Items(ctx context.Context, guid string, after Cursor, upto int64, limit int, detailOver int64) (*ItemsReply, error)
	// Deletions returns the ids of items removed (not moved) after the
	// tombstone cursor, up to upto, in tombstone order, with the cursor to
	// continue from. An id may come for an item the caller never saw.
	Deletions(ctx context.Context, guid string, after Cursor, upto int64, limit int) (*DeletionsReply, error)
	// OpenContent returns the raw bytes of the items, one Frame per id in
	// the order of ids: Size SizeGone for an item expunged since it was
	// listed, SizeUnreadable for one the source cannot read. The bytes are
	// the stored message, unchanged; SHA256 is their hash as the source
	// stored it (the engine verifies it while it streams). The caller
	// closes the stream.
	OpenContent(ctx context.Context, guid string, ids []int64) (*ContentStream, error)
	// Manifest summarises the mailbox per folder (count, bytes, digest of
	// the item hashes) for the verification of a completion.
	Manifest(ctx context.Context, guid string) (*ManifestReply, error)
}

// NativeSource is a tenantferry source tenant: the change feed of its
// mailboxes plus the identity and cutover calls of a cross-tenant move.
// Every call runs the source's trust checks (docs/architecture.md §4 checks 1–3, and 4
// for a mailbox) with the migration app's token before anything else; the
// HTTP Client and the in-process connector of same-server moves enforce
// the same checks in the same code (internal/migration/source).
//
// Reads are safe to repeat. The calls that change the source (Lock,
// Unlock, Finalize) are idempotent: the target's completion repeats them
// after a crash, and a repeated call changes nothing and succeeds.
type NativeSource interface {
	Source
	// Check runs checks 1–3 and returns the source tenant. Nothing is
	// read about any mailbox.
	Check(ctx context.Context) (*CheckReply, error)
	// Mailbox returns the Get-Mailbox identity and size of a source
	// mailbox in a published scope, by address, alias or GUID.
	Mailbox(ctx context.Context, ref string) (*MailboxInfo, error)
	// Scope lists the UserMailboxes of the published scope groups, each
	// once.
	Scope(ctx context.Context) ([]MailboxInfo, error)
	// Register records, on the source, that the caller's app moves the
	// mailbox for the caller's tenant under the target's move id, with
	// the delivery domain its converted source will forward into (a
	// domain the caller's token proves to be the target tenant's). The
	// source lets only a registered move lock, unlock or finalize a
	// mailbox. It is idempotent per moveID; a registration the source
	// admin cancelled stays cancelled (MoveRegistrationCancelled).
	Register(ctx context.Context, moveID string, req RegisterRequest) (*Registration, error)
	// Unregister ends the registration of the caller's move (its batch
	// was removed). Unknown move ids are not an error.
	Unregister(ctx context.Context, moveID string) error
	// Lock makes the mailbox read-only (IMAP) and holds new deliveries in
	// the source's durable queue: mail is held, never refused or lost. It
	// returns the HighestModSeq at the lock; every change up to it is
	// visible to the feeds, and no later change is made while locked.
	// Only the registered move moveID may lock, and only one move holds
	// the lock; locking again changes nothing.
	Lock(ctx context.Context, guid, moveID string) (*LockReply, error)
	// Unlock gives a locked mailbox back (an abandoned completion) and
	// releases the held mail to it. An unlocked mailbox stays as it is
	// (whoever asks); a locked one only its move may unlock; a converted
	// source is AlreadyFinalized.
	Unlock(ctx context.Context, guid, moveID string) (*LockReply, error)
	// Finalize converts the source UserMailbox into a MailUser forwarding
	// to req.ExternalEmailAddress (every address kept, the target's
	// LegacyExchangeDN added as X500), retires its content (primary and
	// archive) and releases the held mail, which then routes to the
	// target. Only the registered move req.MoveId that holds the lock may
	// finalize, and only into its registered delivery domain. The
	// conversion commits (with the registration's Completed state) before
	// anything is released; a repeated Finalize changes nothing and
	// releases again (harmless).
	Finalize(ctx context.Context, guid string, req FinalizeRequest) (*LockReply, error)
}

var (
	_ Source         = (*Client)(nil)
	_ NativeSource   = (*Client)(nil)
	_ FreeBusySource = (*Client)(nil)
)

// HashRecorder is implemented by a Source that learns an item's SHA-256
// only when its content is copied (IMAP reports no hash): the engine hands
// it the hashes of the items a chunk appends, in the chunk's transaction,
// so the source's record of what was copied commits with the copy.
type HashRecorder interface {
	// RecordHashes records, inside the target's write transaction tx,
	// the SHA-256 of each source item id the chunk appended. It must
	// write only through tx (it commits or rolls back with the chunk) and
	// be idempotent (a replayed chunk records the same hashes again).
	RecordHashes(tx *db.Tx, guid string, hashes map[int64]string) error
}

// Sink persists a move's watermark and statistics (the migration package
// implements it). The engine calls it inside the target's write
// transaction tx, after the chunk's items, updates or deletions are written
// in the same transaction:
//   - it must write only through tx, so the watermark commits exactly with
//     the changes it covers (a crash loses both or neither);
//   - w is the complete watermark after the chunk; d and skipped are what
//     the chunk adds (d is zero for a call that only saves the watermark);
//   - a chunk may be replayed after a crash before its commit; a replayed
//     call carries the same w, so saving w must be an overwrite, and the
//     statistics count only what the chunk actually wrote.
//
// An error rolls the chunk back and ends the pass with that error.
type Sink func(tx *db.Tx, w Watermark, d Delta, skipped []Skipped) error

// TokenSource supplies the migration app's access tokens to the native
// client (identity.TokenSource implements it).
type TokenSource interface {
	// Token returns a valid access token (cached or fresh).
	Token(ctx context.Context) (string, error)
	// Invalidate drops the cached token after the server rejected it, so
	// that the next Token fetches a fresh one.
	Invalidate()
}
