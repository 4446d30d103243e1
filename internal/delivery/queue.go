package delivery

import (
	"github.com/emersion/go-smtp"

	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/jobs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// Recipient states. A row starts queued, may be held (and released), and
// ends in exactly one of the final states.
const (
	StateQueued    = "queued"
	StateHeld      = "held"
	StateDelivered = "delivered" // appended to a local mailbox
	StateRelayed   = "relayed"   // accepted by a remote server
	StateExpanded  = "expanded"  // a group: its members got rows of their own
	StateBounced   = "bounced"   // failed permanently or expired (DSN sent unless null sender)
)

// openStates is the SQL list of non-final states.
const openStates = `('queued', 'held')`

// Envelope is an accepted SMTP transaction.
type Envelope struct {
	From string   // reverse path; "" is the null sender
	To   []string // recipients that CheckRecipient accepted
	// Source names the listener or producer: "smtp", "submission", ...
	Source string
	// Relay allows recipients outside this server's domains (an
	// authenticated submission).
	Relay    bool
	AuthUser string // the authenticated address, if any
	Trace    Trace
}

// Queued describes a message Enqueue made durable.
type Queued struct {
	ID     string // queue id (also in our Received header)
	SHA256 string // of the stored bytes, Received header included
	Size   int64
	Hops   int // Received fields, ours included
	// Duplicate is set when the message had been queued before (same
	// envelope, same bytes): ID is that message's, and nothing new was
	// queued.
	Duplicate bool
}

// DeliverArgs is the River job that delivers one recipient row.
type DeliverArgs struct {
	Recipient int64 `json:"r"`
	Expires   int64 `json:"x"` // the message's expiry, unix ms (retry scheduling)
}

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return "delivery.deliver" }

// InsertOpts puts deliveries on the delivery queue.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueDelivery}
}

// newMessage is a message about to be queued.
type newMessage struct {
	from, source, authUser, remote string
	relay                          bool
	rcpts                          []string
	// checkSize, when set, may refuse the message once its size is known,
	// before anything is recorded (quota at the end of DATA).
	checkSize func(size int64) error
	parent    int64 // parent recipient row (group expansion), 0 for none
	depth     int
	auth      authInfo
	dedup     func() string // the dedup key, once the content was read; nil for none
}

// Enqueue makes a message durable and queues its delivery: it prepends our
// Received header to the bytes read from body (which are otherwise stored
// exactly), fsyncs them, and commits the queue rows and one job per
// recipient in one transaction. Only then may the caller acknowledge.
func (s *Service) Enqueue(ctx context.Context, env Envelope, body io.Reader) (*Queued, error) {
	if len(env.To) == 0 {
		return nil, newErr(554, smtp.EnhancedCode{5, 5, 1}, "no valid recipients")
	}
	id := newQueueID()
	hdr := receivedHeader(s.hostname, id, env.Trace, env.To, time.Now())
	m := &newMessage{from: env.From, source: env.Source, authUser: env.AuthUser, remote: env.Trace.RemoteAddr, relay: env.Relay, rcpts: env.To}
	if env.Source == "smtp" || env.Source == "submission" {
		h := sha256.New()
		body = io.TeeReader(body, h)
		m.dedup = func() string { return dedupKey(env, h.Sum(nil)) }
		m.checkSize = func(size int64) error { return s.dataQuotaRefusal(ctx, env.To, size) }
	}
	content := io.MultiReader(bytes.NewReader(hdr), body)
	if s.inboundChecked(env) {
		sp, err := newSpool(body)
		if err != nil {
			return nil, fmt.Errorf("read message: %w", err)
		}
		defer sp.Close()
		ar, info, err := s.checkInbound(ctx, env, sp)
		if err != nil {
			return nil, err
		}
		m.auth = info
		content = io.MultiReader(bytes.NewReader(ar), bytes.NewReader(hdr), sp.reader())
	}
	q, err := s.enqueue(ctx, id, m, content, nil)
	if err != nil {
		return nil, err
	}
	if q.Duplicate {
		s.log.Info("message already queued: acknowledged again, not queued twice", "id", q.ID, "source", env.Source, "from", env.From)
		return q, nil
	}
	s.m.accepted.WithLabelValues(env.Source).Inc()
	s.log.Info("message queued", "id", q.ID, "source", env.Source, "from", env.From, "rcpts", len(env.To), "size", q.Size, "hops", q.Hops)
	return q, nil
}

// errAbort rolls back an enqueue whose before-hook found nothing to do.
var errAbort = errors.New("delivery: enqueue aborted")

// enqueue stores content (streamed, fsynced) and, in one transaction, runs
// before (if not nil), records the message and its recipient rows and
// inserts their jobs. before may return errAbort to roll back quietly
// (enqueue then returns nil, nil).
func (s *Service) enqueue(ctx context.Context, id string, m *newMessage, content io.Reader, before func(tx *db.Tx) error) (*Queued, error) {
	if s.jobs == nil {
		return nil, internal(errNotAttached, "enqueue")
	}
	var scan headerScanner
	parts := mailstore.NewContentParser() // the part tree, built as the bytes stream
	defer parts.Close()
	batch := s.blobs.NewBatch()
	defer batch.Close()
	ref, err := batch.Add(io.TeeReader(content, io.MultiWriter(&scan, parts)))
	if err != nil {
		return nil, fmt.Errorf("store message: %w", err)
	}
	scan.end()
	var tree []byte
	if p := parts.Tree(); p != nil {
		if tree, err = mailstore.EncodeParts(ref.SHA256, p); err != nil {
			return nil, err
		}
	}
	if err := batch.Sync(); err != nil {
		return nil, internal(err, "sync message")
	}
	if m.checkSize != nil {
		if err := m.checkSize(ref.Size); err != nil {
			return nil, err // the batch is closed uncommitted: its bytes are discarded
		}
	}
	q := &Queued{ID: id, SHA256: ref.SHA256, Size: ref.Size, Hops: scan.received}
	now := time.Now()
	expires := now.Add(s.Lifetime).UnixMilli()
	key := ""
	if m.dedup != nil {
		key = m.dedup()
	}
	err = s.d.Write(ctx, func(tx *db.Tx) error {
		if key != "" {
			var uid string
			err := tx.QueryRowContext(ctx, `SELECT uid FROM queue_messages WHERE dedup_key = ? ORDER BY id LIMIT 1`, key).Scan(&uid)
			if err == nil {
				q = &Queued{ID: uid, Duplicate: true}
				return errAbort
			}
			if !db.IsNoRows(err) {
				return err
			}
		}
		if before != nil {
			if err := before(tx); err != nil {
				return err
			}
		}
		if err := batch.Commit(ctx, tx); err != nil {
			return err
		}
		if tree != nil {
			if err := mailstore.SaveParts(ctx, tx, ref.SHA256, tree); err != nil {
				return err
			}
		}
		var mid int64
		err := tx.QueryRowContext(ctx, `INSERT INTO queue_messages (uid, mail_from, sha256, size, hops, source, relay, auth_user, remote_addr, created_at, expires_at,
				auth_results, arc_chain, junk, dedup_key)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			id, m.from, ref.SHA256, ref.Size, q.Hops, m.source, m.relay, m.authUser, m.remote, now.UnixMilli(), expires,
			m.auth.results, m.auth.chain, m.auth.junk, key).Scan(&mid)
		if err != nil {
			return err
		}
		_, err = s.addRecipients(ctx, tx, mid, 0, 0, expires, m.rcpts)
		return err
	})
	if errors.Is(err, errAbort) {
		if q.Duplicate {
			return q, nil
		}
		return nil, nil
	}
	if err != nil {
		return nil, internal(err, "queue message")
	}
	return q, nil
}

// addRecipients inserts recipient rows (duplicates of the message's
// existing rows are skipped) and one delivery job per new row, inside tx.
func (s *Service) addRecipients(ctx context.Context, tx *db.Tx, messageID, parent int64, depth int, expires int64, rcpts []string) ([]int64, error) {
	now := db.Now()
	var ids []int64
	var params []river.InsertManyParams
	for _, r := range rcpts {
		var rid int64
		err := tx.QueryRowContext(ctx, `INSERT INTO queue_recipients (message_id, parent_id, rcpt, rcpt_key, depth, state, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, 'queued', ?, ?) ON CONFLICT (message_id, rcpt_key) DO NOTHING RETURNING id`,
			messageID, parent, r, strings.ToLower(r), depth, now, now).Scan(&rid)
		if db.IsNoRows(err) {
			continue // the message already has this recipient
		}
		if err != nil {
			return nil, err
		}
		ids = append(ids, rid)
		params = append(params, river.InsertManyParams{Args: DeliverArgs{Recipient: rid, Expires: expires}})
	}
	if len(params) > 0 {
		if _, err := s.jobs.Client.InsertManyTx(ctx, tx.Tx, params); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// newQueueID returns a random queue id (hex, 20 characters).
func newQueueID() string {
	u := uuid.New()
	return strings.ToUpper(fmt.Sprintf("%x", u[:10]))
}

// msgRow is a queue_messages row.
type msgRow struct {
	id                        int64
	uid, from, sha256, source string
	size                      int64
	hops                      int
	relay                     bool
	createdAt, expiresAt      int64
	authUser                  string // authenticated submitter, "" for others
	authResults, arcChain     string // from the MX check (see authInfo)
	junk                      bool   // DMARC quarantine: deliver to Junk Email
}

// rcptRow is a queue_recipients row.
type rcptRow struct {
	id, messageID, parent int64
	rcpt, state           string
	depth, attempts       int
}

// load reads a recipient row and its message; nil, nil, nil when the row is
// gone (purged).
func (s *Service) load(ctx context.Context, rid int64) (*rcptRow, *msgRow, error) {
	r := &rcptRow{id: rid}
	m := &msgRow{}
	err := s.d.Read().QueryRowContext(ctx, `SELECT r.message_id, r.parent_id, r.rcpt, r.state, r.depth, r.attempts,
			m.uid, m.mail_from, m.sha256, m.source, m.size, m.hops, m.relay, m.created_at, m.expires_at,
			m.auth_user, m.auth_results, m.arc_chain, m.junk
		FROM queue_recipients r JOIN queue_messages m ON m.id = r.message_id WHERE r.id = ?`, rid).
		Scan(&r.messageID, &r.parent, &r.rcpt, &r.state, &r.depth, &r.attempts,
			&m.uid, &m.from, &m.sha256, &m.source, &m.size, &m.hops, &m.relay, &m.createdAt, &m.expiresAt,
			&m.authUser, &m.authResults, &m.arcChain, &m.junk)
	if db.IsNoRows(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	m.id = r.messageID
	return r, m, nil
}

// finish moves an open row to a final state inside tx. It reports false
// when the row was final already (someone else finished it).
func finish(ctx context.Context, tx *db.Tx, rid int64, state, result string) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE queue_recipients SET state = ?, result = ?, held_tenant = '', held_guid = '', job_id = 0, updated_at = ?
		WHERE id = ? AND state IN `+openStates, state, sanitize(result, 500), db.Now(), rid)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// QueueStats counts recipient rows by state.
func (s *Service) QueueStats(ctx context.Context) (map[string]int64, error) {
	rows, err := s.d.Read().QueryContext(ctx, `SELECT state, COUNT(*) FROM queue_recipients GROUP BY state`)
	if err != nil {
		return nil, internal(err, "queue stats")
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, internal(err, "queue stats")
		}
		out[st] = n
	}
	return out, rows.Err()
}

// dedupKey identifies a received message by its envelope (sender and
// recipients, as given) and the SHA-256 of its bytes as received: the same
// message sent again by a client that did not see our 250 has the same key.
func dedupKey(env Envelope, body []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", env.Source, env.From)
	rcpts := make([]string, len(env.To))
	for i, r := range env.To {
		rcpts[i] = strings.ToLower(r)
	}
	sort.Strings(rcpts)
	for _, r := range rcpts {
		fmt.Fprintf(h, "%s\x00", r)
	}
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// RecipientStatus is where one recipient of a queued message stands.
type RecipientStatus struct {
	Recipient string
	State     string // queued, held, delivered, relayed, expanded, bounced
	Attempts  int
	LastError string // the last temporary failure, if any
	// Result is final: the mailbox GUID, the remote host with the TLS that
	// protected the session ("mx.example:25 TLS 1.3 DANE"), or the bounce
	// status.
	Result string
}

// Status returns the recipients of the queued message with the queue id
// (Queued.ID), in the order they were added; none when no message has it.
func (s *Service) Status(ctx context.Context, queueID string) ([]RecipientStatus, error) {
	rows, err := s.d.Read().QueryContext(ctx, `SELECT r.rcpt, r.state, r.attempts, r.last_error, r.result FROM queue_recipients r
		JOIN queue_messages m ON m.id = r.message_id WHERE m.uid = ? ORDER BY r.id`, queueID)
	if err != nil {
		return nil, internal(err, "read queue status")
	}
	defer rows.Close()
	var out []RecipientStatus
	for rows.Next() {
		var st RecipientStatus
		if err := rows.Scan(&st.Recipient, &st.State, &st.Attempts, &st.LastError, &st.Result); err != nil {
			return nil, internal(err, "read queue status")
		}
		out = append(out, st)
	}
	return out, rows.Err()
}
