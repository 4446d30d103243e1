// Package mailauth is tenantferry's mail authentication: DKIM keys per
// accepted domain (Ed25519 and RSA-2048, sealed with the server key,
// rotated with a grace period) and DKIM signing of outgoing and forwarded
// mail (RFC 6376, RFC 8463); the checks of mail arriving from the Internet
// at the MX — SPF (RFC 7208), DKIM verification, DMARC (RFC 7489) and ARC
// chain validation (RFC 8617) — summarised in an Authentication-Results
// field (RFC 8601); and what makes forwarding survive: the Sender Rewriting
// Scheme (SRS) for envelope senders and ARC sealing of forwarded mail.
//
// The delivery queue (internal/delivery) calls it: Check at the MX before a
// message is acknowledged, Outbound when a message leaves the server. Every
// DNS query goes through internal/dnsx (serve --dns-resolver).
//
// Invariants:
//   - Content is never rewritten: authentication only adds header fields
//     above the bytes received (Authentication-Results on arrival; ARC set
//     and DKIM-Signature fields on the way out). The stored message is
//     those fields, the Received field and then the received bytes,
//     unchanged.
//   - A tenant's keys sign only mail of that tenant: keys are looked up by
//     (tenant, domain), and a domain must be an accepted domain of the
//     tenant to get keys. A domain of another tenant looks exactly like a
//     domain that is not accepted at all.
//   - Private keys exist in clear only in memory while signing; at rest they
//     are sealed with the server key (identity.Seal).
//   - An authentication failure never loses mail silently: DMARC p=reject is
//     a 550 at DATA (the sender's MTA bounces), p=quarantine delivers to
//     Junk Email, everything else is delivered with the verdict recorded.
//     A DNS failure (temperror) never rejects.
//   - Our Authentication-Results field is always the topmost one of a
//     message stored here; fields further down (which a sender may have
//     forged with our authserv-id) are left as received, because content is
//     byte-exact, and are never trusted by this package.
//   - An SRS address is routed back only when its keyed hash verifies (and,
//     for SRS0, its timestamp is younger than SRSMaxAge).
package mailauth
