// Package source is the source side of a cross-tenant mailbox move: the one
// place that decides whether a migration app of another tenant may read,
// lock or convert a mailbox of this server, and that does it.
//
// It owns:
//   - authorizing a pull (docs/architecture.md §4 checks 1–4: the token's signature
//     against the issuer the source tenant consented to, the consent and
//     its Mailbox.Migration permission, an enabled RemoteOutbound
//     organization relationship naming the token's tenant and app, and the
//     mailbox's membership in a published scope group) — Authorize and
//     OpenMailbox;
//   - the reads a target's engine needs (scope, mailbox identity, state,
//     folders, item changes, deletions, content, manifest), through the
//     mailstore;
//   - registered moves (table move_registrations, which no other package
//     touches): the target registers each move with its delivery domain,
//     the source admin lists and cancels them;
//   - the cutover: Lock, Unlock and Finalize (conversion of the source
//     UserMailbox into a MailUser, retirement of its content, release of
//     the mail held while it was locked), for registered moves only.
//
// A registered move's delivery domain must be the target tenant's, as the
// caller's token proves it: a domain hosted on this server must be an
// accepted domain of the token's tenant (tid) and the token must come from
// this server's own issuer for it; any other domain must be in the token's
// tenant_domains claim, signed by the issuer the source tenant consented
// to. Finalize forwards only into that domain (docs/replication-api.md).
//
// Two front doors use it, with the same checks in the same code: the
// /replication/v1 HTTP adapter (internal/replapi), which only translates
// the wire to these calls, and Local, the in-process connector a migration
// uses when source and target tenants live on the same server.
//
// It is a package of its own, below internal/migration rather than inside
// it, because it is the other party of a move: it must work on a server
// that runs no batch at all, and it must not reach the target side's state
// (batches, move requests, River jobs). migration imports it for
// same-server moves; it never imports migration.
//
// Invariants:
//   - Nothing of a source tenant is read or changed before Authorize
//     accepted the caller's token, and nothing of a mailbox before
//     OpenMailbox placed it in a published scope: a Grant is the only way
//     in, and it names one source tenant.
//   - Reads never change the source (a mailbox without content yet gets
//     its empty default folders, which is what its owner's first login
//     would create).
//   - Lock, Unlock and Finalize are idempotent; Finalize commits the
//     conversion (with its registration's Completed state) before it
//     retires content or releases held mail, so mail released by a
//     repeated or resumed Finalize routes to the target.
//   - Only a Registered move locks, and one at a time holds the lock while
//     the mailbox is locked; only the holder finalizes, only into its
//     registered delivery domain. A registration that is cancelled or
//     removed first stops counting, then gives back a lock it held, so a
//     lock taken concurrently is given back by the locker's own re-check.
//     (On PostgreSQL two moves claiming the lock in the same instant are
//     not serialized; both would be registered moves the source admin
//     allowed.)
package source
