// Package mailstore is the byte-exact, change-tracked mailbox store: tenant
// mailboxes (keyed by tenant and mailbox GUID), their folder hierarchy, the
// items (messages) in the folders, a per-mailbox MODSEQ change log with
// tombstones, and in-process change notifications. Raw message bytes live in
// the blobstore; this package records which item references which blob.
//
// It serves three consumers: the IMAP server (folders by path, SELECT
// snapshots, FETCH metadata, STORE, COPY, MOVE, EXPUNGE, APPEND, IDLE via
// Subscribe), local delivery (Append with an origin key for idempotency) and
// replication (FolderChanges, ItemChanges, Tombstones, batch appends with a
// hook run in the same transaction, UpdateItems by item id).
//
// Invariants:
//   - Content is byte-exact: the bytes given to Append are the bytes OpenItem
//     returns, identified by their SHA-256. Headers are parsed only to fill
//     the indexed subject/message-id/from/date columns, with a parser that
//     never fails.
//   - Content is appended by hash alone (no bytes sent) only when the
//     mailbox's tenant already holds it, or the caller received those very
//     bytes itself (HeldContent, AppendItem.Received): knowing another
//     tenant's hash never yields its bytes.
//   - Durability order: an item's bytes are fsynced before the transaction
//     that inserts the item commits. A crash in between leaves garbage bytes
//     and no item.
//   - MODSEQ: each mailbox has one counter. Every committed mutation raises it
//     by exactly one; every item, folder or tombstone it touches carries that
//     value. An operation that changes nothing does not raise it. Mutations of
//     one mailbox are serialised on the mailbox row, so they commit in MODSEQ
//     order: once HighestModSeq returns m, every change with MODSEQ ≤ m is
//     visible.
//   - Item ids are never reused and stay with an item when it moves between
//     folders; the UID changes (a new UID in the destination). Copies are new
//     items.
//   - UIDs in a folder are strictly increasing in assignment order and never
//     reused under the same UIDVALIDITY; UIDNEXT only grows. A new folder
//     (including a re-created name) gets a new, larger UIDVALIDITY.
//   - Every removal of an item from a folder (expunge, move away, folder
//     delete, UpdateItems delete) leaves a tombstone (folder, UID, item id,
//     MODSEQ, moved). Tombstones older than the retention are purged
//     (PurgeTombstones) together with a raise of the mailbox's purge
//     horizon, in one transaction; Tombstones refuses a cursor behind the
//     horizon with ErrResyncRequired, so a consumer never silently misses
//     a removal. Folders are never removed while the mailbox exists;
//     deleted ones stay as tombstone rows with deleted = true.
//   - Folder names are unique per parent among live folders, compared
//     lower-cased; '/' is the hierarchy delimiter and never part of a name.
//   - An item's origin (idempotency key) is unique within its mailbox: a
//     second append with the same origin returns the existing item.
//   - A locked mailbox (and a retired one) refuses every mutation with a
//     coded error; reads always work. Staging mailboxes are writable.
//   - Change events are published only after commit and never block a
//     writer: a subscriber that falls behind receives one EventResync.
package mailstore
