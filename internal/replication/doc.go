// Package replication is the target side's sync engine of a mailbox move and
// the wire format of the replication API (version 1, docs/replication-api.md)
// with its HTTP client, the native connector.
//
// It holds:
//   - the Engine, which copies a Source mailbox into a mailbox of the local
//     mailstore, incrementally and idempotently (engine.go, folders.go,
//     items.go);
//   - the contracts between the engine and its connectors: Source,
//     NativeSource, HashRecorder, Sink (interfaces.go);
//   - the wire types and the framed content codec (wire.go);
//   - Client, the NativeSource of a tenantferry source server reached over
//     HTTP (client.go);
//   - BuildManifest, the per-folder content summary both sides of a move
//     compare (manifest.go).
//
// The source side — authorizing a pull, reading a source mailbox, lock,
// unlock and finalize — lives in internal/migration/source, and its HTTP
// handlers in internal/replapi. This package imports no directory or
// identity code: it sees a source only through Source/NativeSource and a
// target only through the mailstore and a Sink (an import test in
// internal/archtest holds it to that).
//
// Invariants:
//   - A target item carries the source item id (with the connector's
//     prefix) as its origin; writes are keyed by it, so replaying any part
//     of a pass never duplicates an item.
//   - The watermark advances only in the transaction that writes the
//     changes it covers (the Sink runs inside it); a crash at any point
//     loses nothing and resumes from the last commit.
//   - Content is byte-exact: the bytes a Source streams are the bytes
//     stored, verified against the source's SHA-256 while they stream.
//   - Memory is bounded by the page and chunk sizes, never by the mailbox.
//   - The wire format is versioned by its path prefix (APIPrefix); additive
//     changes stay in v1.
package replication
