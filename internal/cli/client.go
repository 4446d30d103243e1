package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/apitypes"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/httpx"
)

// DefaultServer is the API URL used when neither --server nor
// TENANTFERRY_SERVER is given.
const DefaultServer = "http://127.0.0.1:8080"

// client calls the admin API.
type client struct {
	base  string
	token string
	http  *http.Client
}

// client builds the API client from flags, environment and the default
// operator token file.
func (e *env) client() (*client, error) {
	srv := e.server
	if srv == "" {
		srv = e.getenv("TENANTFERRY_SERVER")
	}
	if srv == "" {
		srv = DefaultServer
	}
	u, err := url.Parse(srv)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError("--server %q is not an http(s) URL", srv)
	}
	tok := e.token
	if tok == "" {
		tok = e.getenv("TENANTFERRY_TOKEN")
	}
	if tok == "" {
		if b, err := os.ReadFile(filepath.Join("tenantferry-data", "operator.token")); err == nil {
			tok = strings.TrimSpace(string(b))
		}
	}
	return &client{base: strings.TrimSuffix(srv, "/"), token: tok, http: &http.Client{Timeout: 10 * time.Minute}}, nil
}

// do sends a request with an optional JSON body and returns the raw JSON
// reply. API errors come back as *errs.Error.
func (c *client) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	return c.doRaw(ctx, method, path, "application/json", rd)
}

// doRaw sends a request with a raw body of the given content type.
func (c *client) doRaw(ctx context.Context, method, path, contentType string, body io.Reader) ([]byte, error) {
	b, _, err := c.send(ctx, method, path, contentType, body)
	return b, err
}

// page fetches one page of a list (limit 0: the server's default page
// size) and returns it with the cursor of the next page ("" after the
// last).
func (c *client) page(ctx context.Context, path string, limit int, cursor string) ([]byte, string, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	b, h, err := c.send(ctx, http.MethodGet, path, "", nil)
	if err != nil {
		return nil, "", err
	}
	return b, h.Get(nextCursorHeader), nil
}

// all fetches every page of a list, in the largest pages the server
// gives, and returns them as one JSON array.
func (c *client) all(ctx context.Context, path string) ([]byte, error) {
	var rows []json.RawMessage
	cursor := ""
	for {
		b, next, err := c.page(ctx, path, maxPageSize, cursor)
		if err != nil {
			return nil, err
		}
		var page []json.RawMessage
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, fmt.Errorf("the reply of %s is not a list: %w", path, err)
		}
		rows = append(rows, page...)
		if next == "" {
			if rows == nil {
				rows = []json.RawMessage{}
			}
			return json.Marshal(rows)
		}
		cursor = next
	}
}

// nextCursorHeader and maxPageSize are the API's pagination (docs/api.md):
// the reply header with the next page's cursor and the largest page.
const (
	nextCursorHeader = "X-Next-Cursor"
	maxPageSize      = 1000
)

// send sends a request and returns the reply's body and header. API errors
// come back as *errs.Error.
func (c *client) send(ctx context.Context, method, path, contentType string, body io.Reader) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if sb, ok := body.(sizedBody); ok {
		req.ContentLength = sb.n
		if sb.n == 0 {
			req.Body = http.NoBody
		}
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, errs.New(errs.Unavailable, "ServerUnreachable", "cannot reach the tenantferry server at %s: %v", c.base, err).
			WithHint("start it with 'tenantferry serve' or pass --server URL")
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode >= 300 {
		return nil, nil, replyError(resp, b)
	}
	return b, resp.Header, nil
}

// replyError rebuilds the coded error of an error reply: an RFC 9457
// problem (httpx.Problem), or the {Code, Message, Hint} body of servers
// before it.
func replyError(resp *http.Response, b []byte) error {
	var p struct {
		httpx.Problem
		Message string // servers before problem+json
	}
	if json.Unmarshal(b, &p) != nil || p.Code == "" {
		return errs.FromHTTP(resp.StatusCode, "", fmt.Sprintf("server replied %s", resp.Status), "")
	}
	msg := p.Detail
	if msg == "" {
		msg = p.Message
	}
	e := errs.FromHTTP(resp.StatusCode, p.Code, msg, p.Hint)
	e.Object = p.Object
	return e
}

// tenantPath returns /api/v1/tenants/{tenant} for the --tenant flag, or the
// caller's own tenant when the token is a tenant-admin token.
func (e *env) tenantPath(ctx context.Context, c *client) (string, error) {
	t := e.tenant
	if t == "" {
		b, err := c.do(ctx, http.MethodGet, "/api/v1/whoami", nil)
		if err != nil {
			return "", err
		}
		var w apitypes.Whoami
		json.Unmarshal(b, &w)
		if w.Operator || w.Tenant == nil || w.Tenant.Id == "" {
			return "", usageError("--tenant is required with the operator token")
		}
		t = w.Tenant.Id
	}
	return "/api/v1/tenants/" + url.PathEscape(t), nil
}

// esc escapes one path segment.
func esc(s string) string { return url.PathEscape(s) }
