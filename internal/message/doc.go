// Package message parses a stored message once into its MIME part tree
// with byte offsets, so that FETCH and SEARCH read only the byte ranges
// they need from the blob store (issue 8 item 4).
//
// Two parsers give the same tree: Parse reads a stored message through an
// io.ReaderAt (lazy fill of messages stored before trees were built at
// append), and Builder consumes the bytes as they are written (an
// io.Writer, the store's append path), in one pass. FuzzBuilder and
// TestBuilderCorpus hold them equal.
//
// The package also holds the one header scanner (header.go): Parse and
// Builder split their header lines with it, and HeaderScanner streams a
// header block into fields for the store's index fields and the delivery
// queue's hop count; the rules on which those callers differ are named
// options (HeaderOptions), each with its reason.
//
// Invariants:
//   - Parse reads through an io.ReaderAt in windows of a fixed size: its
//     memory is bounded by the window, the header values it keeps (each
//     capped) and the number of parts (capped by MaxParts), never by the
//     message's size.
//   - Every offset is into the stored bytes, which are never normalised:
//     a section served from [BodyStart, End) is a slice of the message.
//   - Parsing never fails on content: any bytes give a tree (CRLF, LF and
//     lone-CR line endings, missing blank lines, broken or missing
//     boundaries, garbage header lines). Only a read error of the
//     underlying reader is returned.
//   - A line ends at LF or CRLF; a lone CR is not a line end (what Dovecot,
//     dsync and imapsync assume; a CR-only message is one long header
//     line).
//   - The tree is the one imapd's former byte-slice parser gives (kept as
//     imapd's test oracle, oracle_test.go): the same parts, ranges, fields,
//     media types, ENVELOPE, BODYSTRUCTURE, sections and SEARCH results on
//     every message of the shared corpus and on fuzzed input.
//   - A stored tree (Encode) is valid only for the Version it was made
//     with; bump Version when Parse changes its output.
package message
