// Package delivery is tenantferry's mail transfer core: it decides which
// envelope recipients are acceptable, queues accepted messages durably,
// routes them at delivery time (local mailbox, forward, group expansion,
// outbound SMTP), retries temporary failures with backoff, holds deliveries
// for mailboxes that are locked by a completing move, and bounces with an
// RFC 3464 delivery status notification (DSN).
//
// The SMTP listeners (internal/smtpd) are thin adapters over Service:
// CheckRecipient, CheckSender, Login and Enqueue. Deliveries run as River
// jobs (internal/jobs) on the delivery queue, one job per recipient row.
//
// Invariants:
//   - Acknowledged means durable: Enqueue returns only after the message
//     bytes (our Received header followed by the exact bytes received; for
//     mail arriving at the MX our Authentication-Results field above it —
//     the only changes ever made to content) are fsynced in the blob store
//     and, in one
//     transaction, the queue_messages row, one queue_recipients row per
//     recipient and their River jobs are committed. The SMTP layer answers
//     250 only after Enqueue returned nil; a crash before that loses nothing
//     that was acknowledged.
//   - Routing happens when a job runs, never at accept time: every attempt
//     re-resolves the recipient through the directory, because recipients
//     change type during a migration (a UserMailbox becomes a MailUser that
//     forwards to its new home).
//   - Idempotent delivery: a local delivery appends with the origin key
//     "dlv:<queue uid>", so a queued message lands at most once in a mailbox
//     however often its jobs run (retries, rescue after a crash) and however
//     many of its recipients route there. The recipient row is marked
//     delivered in the same transaction as the append.
//   - Every recipient row reaches exactly one final state (delivered, relayed,
//     expanded, bounced), by a conditional update, so at most one DSN is ever
//     created per row, in the same transaction that marks it bounced. A DSN is
//     never sent for a message with the null sender.
//   - A delivery to a locked (or retired) mailbox is held, not failed: the row
//     becomes "held" and a fresh job is scheduled for later in the same
//     transaction, which reads the mailbox row with a row lock so that a state
//     change committed after it is followed by a Release that sees the hold.
//     Holds are not attempts. Release makes the held jobs available at once.
//   - No open relay: mail from an unauthenticated client may only reach
//     recipients hosted here; it leaves the server only when a hosted
//     MailUser forwards it, or as a bounce to one of our SRS addresses whose
//     keyed hash verifies. Authenticated submissions and DSNs may go anywhere.
//   - Mail authentication (auth.go, internal/mailauth): MX mail is checked
//     before it is acknowledged, and DMARC p=reject refuses it then; header
//     fields for a remote hop (ARC set, DKIM signatures) are computed per
//     attempt and sent above the queued bytes, never stored; a forward leaves
//     with an SRS envelope sender, signed only with the forwarding tenant's
//     keys.
//   - Loops end: a message with more than MaxHops Received fields is bounced,
//     never forwarded, and in-process forwarding and group expansion stop at
//     MaxForwardDepth.
//   - A temporary failure is retried until the message's lifetime expires,
//     then bounced; the last retry is scheduled no later than the expiry.
package delivery
