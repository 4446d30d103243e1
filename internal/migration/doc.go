// Package migration implements cross-tenant mailbox moves on the target
// side: migration batches from CSV, move requests and their state machine
// (DESIGN §5), the validation rules of DESIGN §6, the scheduler, and the
// completion and cutover. The copying itself is done by package replication.
//
// Invariants:
//   - Every state transition of a move request is persisted with a
//     timestamp and appended to the move's report log before its effects are
//     acted on.
//   - A user is in at most one active batch (a unique index enforces it).
//   - Every completion step is idempotent and recorded, so a crash at any
//     point resumes where it stopped: lock source → final sync → verify →
//     activate target → convert source → release held mail.
//   - Nothing is written to the target mailbox before every validation rule
//     has passed for that user.
package migration
