package replication

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// Client is the native connector: the target side's client of a source
// server's replication API, authenticated with the migration app's tokens.
type Client struct {
	base   string // https://server/replication/v1/{tenant}
	server string
	tokens TokenSource
	http   *http.Client
}

// NewClient returns a client for the source tenant on the source server,
// using tokens from the app's token endpoint on its home server.
func NewClient(hc *http.Client, server, tenant string, tokens TokenSource) *Client {
	server = strings.TrimSuffix(server, "/")
	return &Client{base: server + strings.TrimSuffix(APIPrefix, "/") + "/" + url.PathEscape(tenant), server: server, tokens: tokens, http: hc}
}

// Server returns the source server URL.
func (c *Client) Server() string { return c.server }

// request sends one authorized request; on a rejected (possibly stale) token
// it fetches a fresh one and retries once.
func (c *Client) request(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		tok, err := c.tokens.Token(ctx)
		if err != nil {
			return nil, err
		}
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// A refusal of the operator's endpoint policy (netguard, in
			// the caller's transport) is a coded Forbidden error: pass it on.
			if f := errs.As(err); f != nil && f.Kind == errs.Forbidden {
				return nil, f
			}
			// In our words only: how a connection failed (refused, reset,
			// timed out) is not the caller's to learn about.
			return nil, errs.New(errs.Unavailable, "EndpointUnreachable", "the source server %s cannot be reached", c.server).
				WithHint("check the endpoint's RemoteServer URL and that the source server is running").WithCause(err)
		}
		if resp.StatusCode < 300 {
			return resp, nil
		}
		e := c.decodeError(resp)
		resp.Body.Close()
		if errors.Is(e, errTokenRejected) && attempt == 0 {
			c.tokens.Invalidate()
			continue
		}
		return nil, e
	}
}

// decodeError turns a refusal of the source server into an error in our
// words: only a code of the replication API (docs/replication-api.md) is
// taken from the reply, never its text, so an endpoint pointed at some
// other HTTP service cannot make this server repeat what it answered.
func (c *Client) decodeError(resp *http.Response) *errs.Error {
	var eb struct{ Code string }
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	json.Unmarshal(b, &eb)
	if m, ok := remoteErrors[eb.Code]; ok {
		return errs.FromHTTP(resp.StatusCode, eb.Code, fmt.Sprintf(m[0], c.server), m[1])
	}
	if isCode(eb.Code) && resp.StatusCode >= 400 {
		// A code this version does not know (a newer source): the code, a
		// protocol token, is kept so the failure is classified right;
		// the reply's text is not.
		return errs.FromHTTP(resp.StatusCode, eb.Code, fmt.Sprintf("the source server %s refused the request (%s)", c.server, eb.Code),
			"see the source server's documentation of the code")
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return errs.New(errs.Unavailable, "EndpointUnreachable", "the source server %s redirected the request; tokens are sent to the endpoint's own URL only", c.server).
			WithHint("set the endpoint's RemoteServer to the source server's public URL (its --public-url)")
	}
	return errs.New(errs.Unavailable, "EndpointUnreachable", "the source server %s answered HTTP %d, not as a replication API", c.server, resp.StatusCode).
		WithHint("check the endpoint's RemoteServer: it is the source tenantferry server's public URL")
}

// isCode reports whether s has the shape of an error code: a PascalCase
// token of letters and digits.
func isCode(s string) bool {
	if len(s) == 0 || len(s) > 40 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// remoteErrors are the codes a source server sends (docs/replication-api.md),
// each with our message (%s: the source server) and hint.
var remoteErrors = map[string][2]string{
	"TokenRejected": {"the source server %s rejected the migration app's token",
		"check the clocks of both servers and that the source's consent names this server's issuer for the app"},
	"AppNotConsented": {"the source tenant on %s has not consented to the migration app (or the server has no such tenant)",
		"check the endpoint's RemoteTenant; the source admin grants consent with 'tenantferry consent grant' or the consent URL"},
	"AppPermissionMissing": {"the source tenant on %s did not grant the migration app the Mailbox.Migration permission",
		"the source admin grants consent with --permission Mailbox.Migration"},
	"SourceNotAuthorized": {"the source tenant on %s has no enabled organization relationship allowing RemoteOutbound moves for this tenant and app",
		"the source admin runs 'tenantferry orgrel create' (or set) with --mailbox-move-capability RemoteOutbound, --oauth-app-id and --published-scopes"},
	"MailboxNotInScope": {"the source mailbox is not in a published scope group of the source tenant on %s (or does not exist there)",
		"check the source address; the source admin adds the mailbox to a published scope group"},
	"SourceMailboxNotFound": {"the source tenant on %s has no such mailbox",
		"check the source address, or the SourceEmailAddress column of the CSV"},
	"TenantNotFound": {"the source server %s has no such tenant", "check the endpoint's RemoteTenant"},
	"SourceNotAMailbox": {"the source recipient on %s is no longer a mailbox (already moved?)",
		"check the move's state on the source server"},
	"IssuerUnreachable": {"the source server %s cannot fetch this server's signing keys",
		"make this server's public URL reachable from the source server"},
	"GuidRequired":       {"the source server %s refused a request as invalid (GuidRequired)", "retry; report a bug if it persists"},
	"InvalidCursor":      {"the source server %s refused a request as invalid (InvalidCursor)", "retry; report a bug if it persists"},
	"InvalidParameter":   {"the source server %s refused a request as invalid (InvalidParameter)", "retry; report a bug if it persists"},
	"InvalidSmtpAddress": {"the source server %s refused the forwarding address as invalid", "check the target delivery domain"},
	"MailboxLocked":      {"the source mailbox on %s is locked", "wait for the completion that locked it, or unlock it"},
	"NoSuchRoute":        {"the source server %s does not serve this replication API route", "upgrade the source server"},
	"AlreadyFinalized":   {"the source mailbox on %s was already converted to a MailUser by a completed move", "nothing to undo on the source"},
	"MailboxRetired":     {"the source mailbox on %s was moved away and is read-only", "check the move's state on the source server"},
	"MoveNotRegistered": {"the source server %s has no registered move for this mailbox and migration app",
		"start (or resume) the move so the target registers it; the source admin may have cancelled it: 'tenantferry move-registration list'"},
	"MoveRegistrationCancelled": {"the source admin on %s cancelled this move's registration",
		"ask the source admin; remove the user from the batch, or create a new batch once the source admin agrees"},
	"MoveRegistrationConflict":  {"the source server %s holds a different registration for this move", "check the move's state on the source server"},
	"MoveRegistrationNotFound":  {"the source server %s has no such move registration", "start the move again so the target registers it"},
	"MoveRegistrationCompleted": {"the move's registration on %s is already completed", "nothing to do on the source"},
	"DeliveryDomainNotProven": {"the source server %s could not verify that the target delivery domain belongs to this tenant",
		"use a verified accepted domain of the target tenant as the batch's target delivery domain"},
	"ForwardingOutsideDeliveryDomain": {"the source server %s refused a forwarding address outside the move's target delivery domain",
		"check the batch's target delivery domain and the target MailUser's proxy addresses"},
	"SourceLockedByAnotherMove": {"the source mailbox on %s is locked by another move", "complete or cancel the other move first"},
	"SourceNotLocked":           {"the source mailbox on %s is not locked by this move", "retry the completion; it locks the source first"},
}

// getJSON performs a request and decodes a JSON reply into out.
func (c *Client) getJSON(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	resp, err := c.request(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 256<<20)).Decode(out); err != nil {
		return errs.New(errs.Unavailable, "EndpointUnreachable", "the source server %s sent a reply that is not the replication API's", c.server).
			WithHint("check the endpoint's RemoteServer: it is the source tenantferry server's public URL").WithCause(err)
	}
	return nil
}

// Check runs the source's checks 1–3 and returns the source tenant.
func (c *Client) Check(ctx context.Context) (*CheckReply, error) {
	var r CheckReply
	return &r, c.getJSON(ctx, http.MethodGet, "/check", nil, &r)
}

// Mailbox returns the identity of a source mailbox (checks 1–4).
func (c *Client) Mailbox(ctx context.Context, ref string) (*MailboxInfo, error) {
	var r MailboxInfo
	return &r, c.getJSON(ctx, http.MethodGet, "/mailboxes/"+url.PathEscape(ref), nil, &r)
}

// FreeBusy implements FreeBusySource.
func (c *Client) FreeBusy(ctx context.Context, ref string, start, end time.Time) (*FreeBusyReply, error) {
	var r FreeBusyReply
	q := url.Values{"start": {start.UTC().Format(time.RFC3339)}, "end": {end.UTC().Format(time.RFC3339)}}
	return &r, c.getJSON(ctx, http.MethodGet, "/mailboxes/"+url.PathEscape(ref)+"/freebusy?"+q.Encode(), nil, &r)
}

// Scope lists the mailboxes of the published scope groups.
func (c *Client) Scope(ctx context.Context) ([]MailboxInfo, error) {
	var r []MailboxInfo
	return r, c.getJSON(ctx, http.MethodGet, "/scope", nil, &r)
}

func mbPath(guid, op string) string { return "/mailboxes/" + url.PathEscape(guid) + "/" + op }

// State returns the change state of a source mailbox (by ExchangeGuid or
// ArchiveGuid).
func (c *Client) State(ctx context.Context, guid string) (*StateReply, error) {
	var r StateReply
	return &r, c.getJSON(ctx, http.MethodGet, mbPath(guid, "state"), nil, &r)
}

// Folders returns the folders changed since a hierarchy state.
func (c *Client) Folders(ctx context.Context, guid string, since int64) (*FoldersReply, error) {
	var r FoldersReply
	return &r, c.getJSON(ctx, http.MethodGet, mbPath(guid, "folders")+"?since="+strconv.FormatInt(since, 10), nil, &r)
}

// Items returns a page of item changes after a cursor, up to a MODSEQ.
func (c *Client) Items(ctx context.Context, guid string, after Cursor, upto int64, limit int, detailOver int64) (*ItemsReply, error) {
	var r ItemsReply
	q := url.Values{"after": {after.String()}, "upto": {strconv.FormatInt(upto, 10)}, "limit": {strconv.Itoa(limit)},
		"detail_over": {strconv.FormatInt(detailOver, 10)}}
	return &r, c.getJSON(ctx, http.MethodGet, mbPath(guid, "items")+"?"+q.Encode(), nil, &r)
}

// Deletions returns a page of ids of items deleted after a MODSEQ, up to a
// MODSEQ.
func (c *Client) Deletions(ctx context.Context, guid string, after Cursor, upto int64, limit int) (*DeletionsReply, error) {
	var r DeletionsReply
	q := url.Values{"after": {after.String()}, "upto": {strconv.FormatInt(upto, 10)}, "limit": {strconv.Itoa(limit)}}
	return &r, c.getJSON(ctx, http.MethodGet, mbPath(guid, "deletions")+"?"+q.Encode(), nil, &r)
}

// Manifest returns the per-folder content summary of a source mailbox.
func (c *Client) Manifest(ctx context.Context, guid string) (*ManifestReply, error) {
	var r ManifestReply
	return &r, c.getJSON(ctx, http.MethodGet, mbPath(guid, "manifest"), nil, &r)
}

// Register registers the target's move of a source mailbox.
func (c *Client) Register(ctx context.Context, moveID string, req RegisterRequest) (*Registration, error) {
	var r Registration
	return &r, c.getJSON(ctx, http.MethodPut, "/moves/"+url.PathEscape(moveID), req, &r)
}

// Unregister ends the registration of the target's move.
func (c *Client) Unregister(ctx context.Context, moveID string) error {
	var r struct{}
	return c.getJSON(ctx, http.MethodDelete, "/moves/"+url.PathEscape(moveID), nil, &r)
}

// Lock makes the source mailbox read-only and holds new deliveries.
func (c *Client) Lock(ctx context.Context, guid, moveID string) (*LockReply, error) {
	var r LockReply
	return &r, c.getJSON(ctx, http.MethodPost, mbPath(guid, "lock"), LockRequest{MoveId: moveID}, &r)
}

// Unlock releases a lock taken by Lock (when a completion is abandoned).
func (c *Client) Unlock(ctx context.Context, guid, moveID string) (*LockReply, error) {
	var r LockReply
	return &r, c.getJSON(ctx, http.MethodPost, mbPath(guid, "unlock"), LockRequest{MoveId: moveID}, &r)
}

// Finalize converts the source mailbox into a MailUser forwarding to the
// target and releases held mail.
func (c *Client) Finalize(ctx context.Context, guid string, req FinalizeRequest) (*LockReply, error) {
	var r LockReply
	return &r, c.getJSON(ctx, http.MethodPost, mbPath(guid, "finalize"), req, &r)
}

// Frame is one item of a content stream. Size is SizeGone for an item the
// source no longer has and SizeUnreadable for one it cannot read; Body is
// then empty.
type Frame struct {
	ID     int64
	Size   int64
	SHA256 string
	Body   io.Reader
}

// Sizes of frames without content.
const (
	SizeGone       = -1
	SizeUnreadable = -2
)

// ContentStream reads the frames of one content request in order. The
// native connector reads them from the replication API's framed stream;
// other connectors build one with NewContentStream.
type ContentStream struct {
	next  func() (Frame, error)
	close func() error
}

// NewContentStream returns a stream whose Next and Close call next and
// close. next returns the frames in the order of the requested ids; it
// drains the previous frame's Body first. A stream that knows its end
// returns io.EOF after the last frame (EncodeContent relies on it).
func NewContentStream(next func() (Frame, error), close func() error) *ContentStream {
	return &ContentStream{next: next, close: close}
}

// frameReader reads the replication API's framed content stream.
type frameReader struct {
	body   io.ReadCloser
	br     *bufio.Reader
	cur    *io.LimitedReader
	server string
}

// OpenContent requests the raw bytes of many items in one request; the
// frames arrive in the order of ids.
func (c *Client) OpenContent(ctx context.Context, guid string, ids []int64) (*ContentStream, error) {
	body, err := json.Marshal(ContentRequest{Ids: ids})
	if err != nil {
		return nil, err
	}
	resp, err := c.request(ctx, http.MethodPost, mbPath(guid, "content"), body)
	if err != nil {
		return nil, err
	}
	fr := &frameReader{body: resp.Body, br: bufio.NewReaderSize(resp.Body, 128<<10), server: c.server}
	return NewContentStream(fr.next, resp.Body.Close), nil
}

// Next returns the next frame. The previous frame's Body is drained first.
func (s *ContentStream) Next() (Frame, error) { return s.next() }

func (s *frameReader) next() (Frame, error) {
	if s.cur != nil && s.cur.N > 0 {
		if _, err := io.Copy(io.Discard, s.cur); err != nil {
			return Frame{}, s.broken(err)
		}
	}
	s.cur = nil
	id, size, sha, err := readFrameHeader(s.br)
	if err != nil {
		return Frame{}, s.broken(err)
	}
	if size < 0 {
		return Frame{ID: id, Size: size, Body: bytes.NewReader(nil)}, nil
	}
	s.cur = &io.LimitedReader{R: s.br, N: size}
	return Frame{ID: id, Size: size, SHA256: hex.EncodeToString(sha), Body: s.cur}, nil
}

func (s *frameReader) broken(err error) error {
	return errs.New(errs.Unavailable, "EndpointUnreachable", "the content stream from %s broke off: %v", s.server, err)
}

// Close ends the stream.
func (s *ContentStream) Close() error { return s.close() }

// Transport is the HTTP transport tuned for replication: generous timeouts
// for large streams, keep-alive connections reused across pages. The
// caller wraps it in its connection policy (no proxy, no redirects: a
// token goes to the endpoint's own URL only).
func Transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	tr.DisableCompression = true
	tr.ResponseHeaderTimeout = 2 * time.Minute
	return tr
}

// errTokenRejected is the source's answer to a token it does not accept
// (identity.ErrTokenRejected's code; replication does not import identity).
var errTokenRejected = errs.Sentinel(errs.Unauthorized, "TokenRejected")
