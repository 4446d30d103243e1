// Package imapd is the IMAP server of tenantferry (IMAP4rev1 and IMAP4rev2
// with UIDPLUS, MOVE, IDLE, SPECIAL-USE, CREATE-SPECIAL-USE, LIST-EXTENDED,
// LIST-STATUS, NAMESPACE, ESEARCH, SEARCHRES, CONTEXT=SEARCH, NOTIFY,
// STATUS=SIZE, CHILDREN, APPENDLIMIT, LITERAL+, ID, MULTIAPPEND, CATENATE,
// URL-PARTIAL, BINARY, CONDSTORE and QRESYNC). It is a protocol adapter
// only: go-imap v2's imapserver speaks part of the protocol (login, LIST,
// SELECT, folder commands), and this package translates its session calls
// into calls of the directory (login) and the mailbox store (everything
// else); FETCH, STORE, SEARCH, APPEND, SORT, THREAD, NOTIFY, ID and QUOTA
// are served below go-imap with this package's own parser and response
// writer (fetchwrite.go). Business
// rules — which mailbox is writable, what a valid flag or folder name is,
// how UIDs are assigned — live in those packages; their coded errors are
// mapped to IMAP replies in one place (errors.go).
//
// The files follow imapserver's layout: one per command group (login,
// list, folders, select, fetch, store, copy, append, search), the session
// type, the shared folder views (view, watch) and each session's view of
// them (clientview), the connection wrapper (conn) with the commands and
// literals handled below go-imap (intercept, literal, lenient, mutf7; the
// commands answered there: fetchcmd, storecmd, searchcmd, searchupdate,
// sort, thread, quota, notify, and condstore and qresync for RFC 7162),
// the APPEND of a logged-in session, read and streamed below go-imap
// (appendcmd, catenate, cmdstream), and
// what FETCH and SEARCH build on a message's part tree (internal/message,
// stored by mailstore.Parts): sections as byte ranges, ENVELOPE,
// BODYSTRUCTURE, PREVIEW and text matching (fetchparts, parts, section, structure, preview,
// address, searchtext).
//
// Invariants:
//   - An APPEND is all or nothing: its messages (MULTIAPPEND) stream into
//     one mailstore.AppendBatch and are committed in one transaction, or
//     none is visible; a refused literal is never invited (no continuation
//     request) or, sent anyway (LITERAL+), read and dropped. Literals are
//     never held in memory; a CATENATE URL reaches only folders SELECT
//     reaches (the user's own mailbox and its mounts).
//   - Byte-exact content: BODY[] (and its partial ranges) streams the
//     stored bytes unchanged, and every other body section is a slice of
//     them (HEADER.FIELDS: whole raw fields plus the message's own blank
//     line). Nothing normalizes line endings, charsets or headers.
//   - Bounded memory: FETCH never holds a message; it reads the part tree
//     and streams the byte ranges it serves (BINARY decodes while it
//     streams, once to count and once to send). SEARCH holds a message of
//     at most 1 MiB, and of a larger one a text part's decoded text (at
//     most 16 MiB) or a 256 KiB chunk at a time.
//   - Parsing never fails a command: the MIME parser accepts any bytes
//     (LF, CRLF and CR-only lines, broken or missing boundaries, NULs,
//     8-bit headers) and bounds its work; ENVELOPE and BODYSTRUCTURE fall
//     back to empty or text/plain defaults, and a message SEARCH cannot
//     read simply does not match.
//   - Unsolicited responses never split another response: they are
//     written by the session's goroutine between responses (Poll, IDLE,
//     commands answered below go-imap) or, for NOTIFY, only while go-imap
//     waits for the next command line (filterConn.writeIfWaiting).
//   - A user logs in with any SMTP address of a UserMailbox and its
//     password; the session then works on the store mailbox (tenant,
//     ExchangeGuid), created with the default folders when missing. Only
//     IPF.Note folders exist for IMAP; the \Inbox folder is INBOX.
//   - Sessions that select the same folder share one view: the server-side
//     message list, kept current by a per-mailbox watcher that applies the
//     store's change events in MODSEQ order (reloading from the store on a
//     gap or a resync), with a log of its changes by UID. Each session
//     keeps the UIDs its client knows (clientview.go) and replays the log
//     into EXISTS, EXPUNGE, FETCH FLAGS and FLAGS updates, so the client's
//     sequence numbers and count are always those of that list; it sees
//     the changes of others and its own expunges and flag changes exactly
//     once. SELECT takes its data and joins the log in one step. A command
//     that changes a mailbox completes only when the other sessions of the
//     process can see the change.
//   - \Recent (RFC 3501) is claimed in the store, so a message is recent in
//     exactly one session, also across processes.
//   - Subscriptions are names: CREATE subscribes nothing, DELETE keeps the
//     name subscribed until UNSUBSCRIBE.
//   - A FETCH response never carries a keyword the client has not seen in
//     FLAGS (with PERMANENTFLAGS) before it.
//   - Untagged updates (EXISTS, EXPUNGE or VANISHED, FETCH FLAGS with
//     MODSEQ once CONDSTORE is enabled, FLAGS) have one writer
//     (updatewrite.go), whichever command they follow; FETCH, STORE and
//     SEARCH by sequence number never see an EXPUNGE.
//   - HIGHESTMODSEQ is a MODSEQ up to which every change of the folder is
//     in the session's view; QRESYNC answers from the store's tombstones,
//     and past their purge horizon with every missing UID of the client's
//     range.
//   - A locked or retired mailbox is read-only: SELECT completes with
//     [READ-ONLY], and changes are refused by the store and answered NO
//     with the store's reason.
//   - Authentication needs TLS unless Options.AllowPlainAuth allows the
//     connection: otherwise LOGINDISABLED until STARTTLS. STARTTLS itself
//     is performed by the connection wrapper (conn.go), below go-imap, so
//     that this package sees every connection's plain text.
//   - Every session has a context, cancelled when its connection closes;
//     Server.Close cancels all of them.
//   - Command lines of known buggy clients are repaired before go-imap
//     parses them (lenient.go: Dovecot imapc's "APPEND box ( kw)", and a
//     bare "&" in a mailbox name, which is taken literally: "R&D" names
//     the folder that LIST shows as "R&-D"); the bytes of every literal a
//     client announces pass through unchanged.
package imapd
