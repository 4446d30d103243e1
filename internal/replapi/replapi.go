// Package replapi is the HTTP adapter of the replication API, version 1
// (/replication/v1/..., docs/replication-api.md): the source side of a
// cross-tenant move as a target server reaches it.
//
// Invariants:
//   - Handlers only translate: they read the path, query and body, call
//     the source core (internal/migration/source) with the bearer token,
//     and encode its reply in the replication wire format. Authorization,
//     paging limits and every cutover rule live in the core, which
//     same-server moves call in-process with the same checks.
//   - No route reads anything before the core authorized the token
//     (checks 1–3), and no mailbox route before it placed the mailbox in
//     a published scope (check 4).
//   - Every error reply is an RFC 9457 problem (httpx.Problem,
//     application/problem+json: detail, Code, Hint, Object) with the
//     status from errs.HTTPStatus; bad input never yields a 500. Request
//     bodies are bounded and strictly decoded.
package replapi

import (
	"bufio"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/httpx"
	"github.com/tenantferry/tenantferry/internal/migration/source"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// Server serves the replication API over a source core.
type Server struct {
	Core *source.Core
	Log  *slog.Logger
}

// New returns the replication API adapter.
func New(core *source.Core, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{Core: core, Log: log}
}

// Routes registers the replication API on mux.
func (s *Server) Routes(mux *http.ServeMux) {
	p := strings.TrimSuffix(replication.APIPrefix, "/")
	mux.HandleFunc("GET "+p+"/{tenant}/check", s.handle(s.check))
	mux.HandleFunc("GET "+p+"/{tenant}/scope", s.handle(s.scope))
	mux.HandleFunc("GET "+p+"/{tenant}/mailboxes/{id}", s.handle(s.mailbox))
	mux.HandleFunc("GET "+p+"/{tenant}/mailboxes/{id}/freebusy", s.handle(s.freeBusy))
	mux.HandleFunc("PUT "+p+"/{tenant}/moves/{move}", s.handle(s.register))
	mux.HandleFunc("DELETE "+p+"/{tenant}/moves/{move}", s.handle(s.unregister))
	m := p + "/{tenant}/mailboxes/{id}/"
	mux.HandleFunc("GET "+m+"state", s.handleMailbox(false, s.state))
	mux.HandleFunc("GET "+m+"folders", s.handleMailbox(false, s.folders))
	mux.HandleFunc("GET "+m+"items", s.handleMailbox(false, s.items))
	mux.HandleFunc("GET "+m+"deletions", s.handleMailbox(false, s.deletions))
	mux.HandleFunc("GET "+m+"manifest", s.handleMailbox(true, s.manifest))
	mux.HandleFunc("POST "+m+"content", s.handleMailbox(false, s.content))
	mux.HandleFunc("POST "+m+"lock", s.handleMailbox(true, s.lock))
	mux.HandleFunc("POST "+m+"unlock", s.handleMailbox(true, s.unlock))
	mux.HandleFunc("POST "+m+"finalize", s.handleMailbox(true, s.finalize))
	mux.HandleFunc(p+"/", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, s.Log, r, httpx.ErrNoSuchRoute.Newf("no replication API route %s %s", r.Method, r.URL.Path).
			WithHint("see docs/replication-api.md"))
	})
}

// grantFunc is a handler of an authorized caller; a nil value with a nil
// error means the handler wrote the reply itself.
type grantFunc func(w http.ResponseWriter, r *http.Request, g *source.Grant) (any, error)

// handle authorizes the token (checks 1–3) and encodes the handler's
// JSON result.
func (s *Server) handle(f grantFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		g, err := s.Core.Authorize(r.Context(), r.PathValue("tenant"), httpx.Bearer(r))
		if err == nil {
			var v any
			if v, err = f(w, r, g); err == nil {
				if v != nil {
					httpx.WriteJSON(w, http.StatusOK, v)
				}
				return
			}
		}
		httpx.WriteError(w, s.Log, r, err)
	}
}

type mailboxFunc func(w http.ResponseWriter, r *http.Request, g *source.Grant, m *source.Mailbox) (any, error)

// handleMailbox adds check 4 for the mailbox named by {id} (an
// ExchangeGuid or ArchiveGuid).
func (s *Server) handleMailbox(allowConverted bool, f mailboxFunc) http.HandlerFunc {
	return s.handle(func(w http.ResponseWriter, r *http.Request, g *source.Grant) (any, error) {
		m, err := s.Core.OpenMailbox(r.Context(), g, r.PathValue("id"), allowConverted)
		if err != nil {
			return nil, err
		}
		return f(w, r, g, m)
	})
}

func (s *Server) check(_ http.ResponseWriter, _ *http.Request, g *source.Grant) (any, error) {
	return s.Core.Check(g), nil
}

func (s *Server) scope(_ http.ResponseWriter, r *http.Request, g *source.Grant) (any, error) {
	return s.Core.Scope(r.Context(), g)
}

func (s *Server) mailbox(_ http.ResponseWriter, r *http.Request, g *source.Grant) (any, error) {
	return s.Core.MailboxInfo(r.Context(), g, r.PathValue("id"), r.URL.Query().Get("converted") == "1")
}

// freeBusy answers GET {tenant}/mailboxes/{id}/freebusy?start=&end=
// (RFC 3339 times).
func (s *Server) freeBusy(_ http.ResponseWriter, r *http.Request, g *source.Grant) (any, error) {
	var t [2]time.Time
	for i, n := range []string{"start", "end"} {
		v, err := time.Parse(time.RFC3339, r.URL.Query().Get(n))
		if err != nil {
			return nil, source.ErrInvalidParameter.Newf("%s=%q is not an RFC 3339 time", n, r.URL.Query().Get(n))
		}
		t[i] = v
	}
	return s.Core.FreeBusy(r.Context(), g, r.PathValue("id"), t[0], t[1])
}

func (s *Server) state(_ http.ResponseWriter, r *http.Request, _ *source.Grant, m *source.Mailbox) (any, error) {
	return m.State(r.Context())
}

// int64Param reads a non-negative number from the query (0 when absent).
func int64Param(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, source.ErrInvalidParameter.Newf("%s=%q is not a non-negative number", name, v)
	}
	return n, nil
}

// page reads the paging parameters of the change feeds: after (a cursor),
// upto (a MODSEQ) and limit.
func page(r *http.Request) (after replication.Cursor, upto int64, limit int, err error) {
	if after, err = replication.ParseCursor(r.URL.Query().Get("after")); err != nil {
		return
	}
	if upto, err = int64Param(r, "upto"); err != nil {
		return
	}
	n, err := int64Param(r, "limit")
	if n > 1<<30 {
		n = 1 << 30
	}
	return after, upto, int(n), err
}

func (s *Server) folders(_ http.ResponseWriter, r *http.Request, _ *source.Grant, m *source.Mailbox) (any, error) {
	since, err := int64Param(r, "since")
	if err != nil {
		return nil, err
	}
	return m.Folders(r.Context(), since)
}

func (s *Server) items(_ http.ResponseWriter, r *http.Request, _ *source.Grant, m *source.Mailbox) (any, error) {
	after, upto, limit, err := page(r)
	if err != nil {
		return nil, err
	}
	detailOver, err := int64Param(r, "detail_over")
	if err != nil {
		return nil, err
	}
	return m.Items(r.Context(), after, upto, limit, detailOver)
}

func (s *Server) deletions(_ http.ResponseWriter, r *http.Request, _ *source.Grant, m *source.Mailbox) (any, error) {
	after, upto, limit, err := page(r)
	if err != nil {
		return nil, err
	}
	return m.Deletions(r.Context(), after, upto, limit)
}

func (s *Server) manifest(_ http.ResponseWriter, r *http.Request, _ *source.Grant, m *source.Mailbox) (any, error) {
	return m.Manifest(r.Context(), r.URL.Query().Get("detail"))
}

// content streams the requested items in the framed format. Once the
// first byte is out, a failure can only break the stream off: the client
// sees a short stream and retries the chunk.
func (s *Server) content(w http.ResponseWriter, r *http.Request, _ *source.Grant, m *source.Mailbox) (any, error) {
	var req replication.ContentRequest
	if err := httpx.DecodeJSON(r, 1<<20, &req); err != nil {
		return nil, err
	}
	cs, err := m.OpenContent(r.Context(), req.Ids)
	if err != nil {
		return nil, err
	}
	defer cs.Close()
	w.Header().Set("Content-Type", replication.ContentType)
	bw := bufio.NewWriterSize(w, 256<<10)
	if err := replication.EncodeContent(bw, cs); err != nil {
		s.Log.Warn("replication content stream aborted", "mailbox", m.Recipient().PrimarySmtpAddress, "err", err)
		return nil, nil
	}
	bw.Flush()
	return nil, nil
}

func (s *Server) register(_ http.ResponseWriter, r *http.Request, g *source.Grant) (any, error) {
	var req replication.RegisterRequest
	if err := httpx.DecodeJSON(r, 64<<10, &req); err != nil {
		return nil, err
	}
	return s.Core.Register(r.Context(), g, r.PathValue("move"), req)
}

func (s *Server) unregister(_ http.ResponseWriter, r *http.Request, g *source.Grant) (any, error) {
	return struct{}{}, s.Core.Unregister(r.Context(), g, r.PathValue("move"))
}

// lockRequest decodes the body of lock and unlock.
func lockRequest(r *http.Request) (replication.LockRequest, error) {
	var req replication.LockRequest
	return req, httpx.DecodeJSON(r, 64<<10, &req)
}

func (s *Server) lock(_ http.ResponseWriter, r *http.Request, _ *source.Grant, m *source.Mailbox) (any, error) {
	req, err := lockRequest(r)
	if err != nil {
		return nil, err
	}
	return s.Core.Lock(r.Context(), m, req.MoveId)
}

func (s *Server) unlock(_ http.ResponseWriter, r *http.Request, _ *source.Grant, m *source.Mailbox) (any, error) {
	req, err := lockRequest(r)
	if err != nil {
		return nil, err
	}
	return s.Core.Unlock(r.Context(), m, req.MoveId)
}

func (s *Server) finalize(_ http.ResponseWriter, r *http.Request, _ *source.Grant, m *source.Mailbox) (any, error) {
	var req replication.FinalizeRequest
	if err := httpx.DecodeJSON(r, 64<<10, &req); err != nil {
		return nil, err
	}
	return s.Core.Finalize(r.Context(), m, req)
}
