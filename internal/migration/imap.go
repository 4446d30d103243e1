package migration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/replication"
	"github.com/tenantferry/tenantferry/internal/replication/davsrc"
	"github.com/tenantferry/tenantferry/internal/replication/imapsrc"
)

// IMAP migrations (Exchange's IMAP migration): the source is any IMAP
// server, reached through an IMAP endpoint with each user's own login from
// the batch CSV (EmailAddress,UserName,Password); the target is the user's
// existing UserMailbox, written in place (its folders adopted). Nothing is
// locked or converted on the source: completion is a final sync and a
// verification, after which the admin points the MX records here.

// imapPlan is what the IMAP validation learned about a move.
type imapPlan struct {
	target   *directory.Recipient
	mailbox  *mailstore.Mailbox
	srv      imapsrc.Server
	user     string
	password string
}

// imapServer is how to reach an IMAP endpoint's server (through the
// endpoint policy) for one move; moveID "" outside a move (endpoint test).
func (s *Service) imapServer(ep *directory.Endpoint, moveID string) imapsrc.Server {
	return imapsrc.Server{URL: ep.RemoteServer, Security: ep.Security, Dial: s.Guard.DialContext, OAuth: s.imapOAuth(ep, moveID)}
}

// storeCredentials seals a user's IMAP password with the server key.
func (s *Service) storeCredentials(ctx context.Context, tx *db.Tx, moveID, user, password string) error {
	sealed, err := s.Dir.SealSecret(password)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO imap_credentials (move_id, username, secret_enc) VALUES (?, ?, ?)`, moveID, user, sealed)
	return err
}

// storeRotatedSecret replaces a move's stored refresh token with the one
// the provider rotated it to. It is durable before it returns: the old
// token may already be dead at the provider.
func (s *Service) storeRotatedSecret(moveID, refresh string) error {
	sealed, err := s.Dir.SealSecret(refresh)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.D.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE imap_credentials SET secret_enc = ? WHERE move_id = ?`, sealed, moveID)
		return err
	})
}

// credentials opens a move's IMAP login.
func (s *Service) credentials(ctx context.Context, moveID string) (string, string, error) {
	var user string
	var sealed []byte
	err := s.D.Read().QueryRowContext(ctx, `SELECT username, secret_enc FROM imap_credentials WHERE move_id = ?`, moveID).Scan(&user, &sealed)
	if db.IsNoRows(err) {
		return "", "", errs.Conflictf("CredentialsMissing", "the IMAP credentials of this user were deleted with its completion or its batch").
			WithHint("create a new batch with the user's UserName and Password")
	}
	if err != nil {
		return "", "", err
	}
	pw, err := s.Dir.OpenSecret(sealed)
	return user, pw, err
}

// forgetIMAP deletes a move's IMAP credentials and mirror; it reports
// whether the move was an IMAP move.
func forgetIMAP(ctx context.Context, tx *db.Tx, moveID string) (bool, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM imap_credentials WHERE move_id = ?`, moveID)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	mirrored, err := imapsrc.Mirrored(ctx, tx, moveID)
	if err != nil {
		return false, err
	}
	return n > 0 || mirrored, imapsrc.Forget(ctx, tx, moveID)
}

// validateIMAPTarget checks that the CSV's EmailAddress is a UserMailbox of
// this tenant with an active mailbox.
func (s *Service) validateIMAPTarget(ctx context.Context, v *validation, p *imapPlan, tenantID, addr string) {
	v.run("TargetRecipient", "the target is a UserMailbox", func() error {
		r, err := s.Dir.GetRecipient(ctx, tenantID, addr)
		if errors.Is(err, directory.ErrRecipientNotFound) {
			return errs.NotFoundf("RecipientNotFound", "no recipient %s in this tenant", addr).
				WithHint("an IMAP migration writes into an existing mailbox: create it with 'tenantferry mailbox create', then start the batch again").WithObject(addr)
		}
		if err != nil {
			return err
		}
		if r.Type != directory.UserMailbox {
			return errs.Conflictf("TargetNotMailbox", "target %s is a %s, not a UserMailbox", addr, r.Type).
				WithHint("an IMAP migration writes into the user's mailbox: use a UserMailbox address in the EmailAddress column").WithObject(addr)
		}
		mb, err := s.Store.Mailbox(ctx, tenantID, r.ExchangeGuid)
		if err != nil {
			return err
		}
		if mb.State != mailstore.StateActive {
			return errs.Conflictf("TargetNotMailbox", "the mailbox of %s is %s, not active", addr, mb.State).
				WithHint("wait until the mailbox is active (a move into it may be completing)").WithObject(addr)
		}
		p.target, p.mailbox = r, mb
		return nil
	})
}

// validateIMAPUser runs the rules of an IMAP move: the target mailbox, the
// source login (which also proves the server reachable), and one active
// batch per user.
func (s *Service) validateIMAPUser(ctx context.Context, v *validation, ep *directory.Endpoint, m *Move) *imapPlan {
	p := &imapPlan{srv: s.imapServer(ep, m.ID)}
	s.validateIMAPTarget(ctx, v, p, m.TenantID, m.Email)
	v.run("SourceLogin", "the IMAP server accepted the user's credentials", func() error {
		var err error
		if p.user, p.password, err = s.credentials(ctx, m.ID); err != nil {
			return err
		}
		return imapsrc.CheckLogin(ctx, p.srv, p.user, p.password)
	})
	v.run("OtherBatch", "the user is in no other active batch", func() error {
		return s.otherBatch(ctx, m.TenantID, m.Email, m.BatchID)
	})
	return p
}

// otherBatch is the UserInAnotherBatch rule.
func (s *Service) otherBatch(ctx context.Context, tenantID, addr, batchID string) error {
	var other string
	err := s.D.Read().QueryRowContext(ctx, `SELECT b.name FROM moves m JOIN batches b ON b.id = m.batch_id
		WHERE m.tenant_id = ? AND m.email_key = ? AND m.active = ? AND m.batch_id <> ?`, tenantID, strings.ToLower(addr), true, batchID).Scan(&other)
	if db.IsNoRows(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return errs.Conflictf("UserInAnotherBatch", "%s is already in the active batch %s", addr, other).
		WithHint("remove it from that batch first ('tenantferry batch remove %s')", other).WithObject(addr)
}

// testIMAPEndpoint is `endpoint test` of an IMAP endpoint: it connects,
// negotiates TLS and reports the server's capabilities (it cannot log in
// without a user's credentials, which come with the batch CSV); with a test
// mailbox, it checks that the target is a UserMailbox.
func (s *Service) testIMAPEndpoint(ctx context.Context, tenantID string, ep *directory.Endpoint, testMailbox string) *TestResult {
	v := &validation{}
	var probe *imapsrc.Probe
	var okMsg string
	v.run("EndpointConnectivity", "", func() error {
		var err error
		if probe, err = imapsrc.Connect(ctx, s.imapServer(ep, "")); err != nil {
			return err
		}
		okMsg = fmt.Sprintf("connected to %s (TLS: %s); capabilities: %s", probe.Address, probe.TLS, strings.Join(probe.Capabilities, " "))
		return nil
	})
	if probe != nil {
		v.checks[len(v.checks)-1].Message = okMsg
	}
	for _, d := range []struct{ name, url string }{{"CalDAVConnectivity", ep.CalDAVURL}, {"CardDAVConnectivity", ep.CardDAVURL}} {
		if d.url != "" {
			v.run(d.name, d.url+" answers as a DAV server (each user's login comes with the batch)", func() error {
				return davsrc.Probe(ctx, s.HTTP, d.url)
			})
		}
	}
	if testMailbox != "" {
		s.validateIMAPTarget(ctx, v, &imapPlan{}, tenantID, testMailbox)
	}
	res := &TestResult{Result: "Success", Message: "the IMAP server is reachable; each user's login is checked when the batch starts", Checks: v.checks}
	if v.failed != nil {
		res.Result, res.Message = "Failed", v.failed.Error()
	}
	return res
}

// syncIMAP validates an IMAP move and runs one pass.
func (s *Service) syncIMAP(ctx context.Context, b *Batch, m *Move, ep *directory.Endpoint, initial bool, gen int64) error {
	v := &validation{}
	p := s.validateIMAPUser(ctx, v, ep, m)
	if v.failed != nil {
		return s.passFailed(ctx, m, v.failed)
	}
	state := StateIncrementalSyncing
	if initial {
		state = StateSyncing
	}
	if err := s.D.Write(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE moves SET target_recipient_id = ?, source_address = ?, exchange_guid = ?, archive_guid = '',
			error_code = '', error_message = '' WHERE id = ?`, p.target.ID, p.user, p.target.ExchangeGuid, m.ID); err != nil {
			return err
		}
		return s.setState(ctx, tx, m, state, "")
	}); err != nil {
		return s.passFailed(ctx, m, err)
	}
	m.ExchangeGuid, m.SourceAddress = p.target.ExchangeGuid, p.user
	start := time.Now()
	res, err := s.runIMAPPass(ctx, b, m, p)
	if err != nil {
		return s.passFailed(ctx, m, err)
	}
	if err := s.davPassLogged(ctx, m, ep, p); err != nil {
		return s.passFailed(ctx, m, err)
	}
	return s.endPass(ctx, m, initial, gen, time.Since(start), res.Delta, true)
}

// runIMAPPass runs one engine pass from the IMAP server into the user's
// mailbox.
func (s *Service) runIMAPPass(ctx context.Context, b *Batch, m *Move, p *imapPlan) (*replication.PassResult, error) {
	w, err := s.loadWatermark(ctx, m.ID, string(mailstore.KindPrimary))
	if err != nil {
		return nil, err
	}
	src := imapsrc.New(s.D, m.ID, p.srv, p.user, p.password, s.Log)
	defer src.Close()
	src.OnScan = func(items, bytes int64) {
		s.D.Write(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE moves SET items_total = ?, bytes_total = ? WHERE id = ?`, items, bytes, m.ID)
			return err
		})
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	job := &replication.Job{Source: src, SourceGUID: p.target.ExchangeGuid, MailboxID: p.mailbox.ID, MaxItemSize: b.MaxItemSize,
		Sink: s.sink(ctx, m.ID, string(mailstore.KindPrimary)), OriginPrefix: imapsrc.OriginPrefix, AdoptFolders: true, Filter: b.Filter, Throttle: throttleOf(ctx), Repair: m.RepairRequested,
		Progress: s.progress(pctx, cancel, m.ID)}
	_, res, err := s.Engine.Pass(pctx, job, w)
	return res, err
}
