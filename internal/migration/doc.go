// Package migration implements cross-tenant mailbox moves on the target
// side: migration batches from CSV, move requests and their state machine
// (docs/architecture.md §5), the validation rules of docs/architecture.md §6, the scheduler, and the
// completion and cutover. The copying itself is done by package replication.
//
// A batch whose endpoint is of type IMAP migrates from any IMAP server
// (imap.go): its CSV carries each user's login (sealed per move), the
// target is the user's existing UserMailbox, written in place through the
// IMAP connector (replication/imapsrc), and completion is a final sync and
// a verification — nothing on the source is locked or converted.
//
// Invariants:
//   - Every state transition of a move request is persisted with a
//     timestamp and appended to the move's report log before its effects are
//     acted on.
//   - A user is in at most one active batch (a unique index enforces it).
//   - Every completion step is idempotent and recorded, so a crash at any
//     point resumes where it stopped: lock source → final sync → verify →
//     activate target → convert source → release held mail (an IMAP move:
//     final sync → verify → done).
//   - An IMAP move's password exists only sealed, only while the move can
//     still sync: completion and batch removal delete it.
//   - Nothing is written to the target mailbox before every validation rule
//     has passed for that user.
package migration
