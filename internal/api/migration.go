package api

import (
	"net/http"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/apitypes"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/httpx"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// maxCSVBody bounds requests that carry a CSV (the CSV itself is limited to
// migration.MaxCSVBytes; JSON escaping adds to it).
const maxCSVBody = 16 << 20

// parseFilter builds a batch filter from its request fields.
func parseFilter(since, before string, include, exclude, mapping []string) (*replication.Filter, error) {
	f := &replication.Filter{IncludeFolders: include, ExcludeFolders: exclude, MapFolders: mapping}
	for _, d := range []struct {
		name, in string
		out      *time.Time
	}{{"Since", since, &f.Since}, {"Before", before, &f.Before}} {
		if d.in == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, d.in)
		if err != nil {
			if t, err = parseTime(d.name, d.in); err != nil {
				return nil, errs.Invalidf("InvalidTime", "%s %q is neither a date (YYYY-MM-DD) nor an RFC 3339 time", d.name, d.in).
					WithObject(d.name).WithHint("use e.g. 2024-01-01 or 2024-01-01T00:00:00Z")
			}
		}
		*d.out = t
	}
	return f, nil
}

func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, errs.Invalidf("InvalidTime", "%s %q is not an RFC 3339 time", field, s).WithHint("use e.g. 2026-12-01T18:00:00Z")
	}
	return t, nil
}

// batchSpec validates a batch create request into the migration's spec.
func batchSpec(r apitypes.BatchCreate) (migration.BatchSpec, error) {
	s := migration.BatchSpec{Name: r.Name, Endpoint: r.Endpoint, CSV: []byte(r.Csv), TargetDeliveryDomain: r.TargetDeliveryDomain,
		AutoStart: r.AutoStart, AutoComplete: r.AutoComplete, MaxItemSize: r.MaxItemSize, LargeItemLimit: r.LargeItemLimit, BadItemLimit: r.BadItemLimit,
		NotificationEmails: r.NotificationEmails, NotifyUsers: r.NotifyUsers, PasswordContinuity: r.PasswordContinuity}
	var err error
	if s.StartAfter, err = parseTime("StartAfter", r.StartAfter); err != nil {
		return s, err
	}
	if s.CompleteAfter, err = parseTime("CompleteAfter", r.CompleteAfter); err != nil {
		return s, err
	}
	if r.IncrementalSyncInterval != "" {
		if s.IncrementalSyncInterval, err = parseDuration("IncrementalSyncInterval", r.IncrementalSyncInterval); err != nil {
			return s, err
		}
	}
	if r.ReportInterval != "" {
		if s.ReportInterval, err = parseDuration("ReportInterval", r.ReportInterval); err != nil {
			return s, err
		}
	}
	if s.Filter, err = parseFilter(r.Since, r.Before, r.IncludeFolders, r.ExcludeFolders, r.MapFolders); err != nil {
		return s, err
	}
	if r.Csv == "" {
		return s, errs.Invalidf("InvalidCsv", "the CSV is empty").WithHint("pass --csv FILE with an EmailAddress column")
	}
	return s, nil
}

// parseDuration parses a Go duration field ("0" included).
func parseDuration(field, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errs.Invalidf("InvalidInterval", "%s %q is not a duration", field, s).WithObject(field).WithHint("use e.g. 1h or 30m")
	}
	return d, nil
}

// batchUpdate validates a batch set request.
func batchUpdate(r apitypes.BatchSet) (migration.BatchUpdate, error) {
	u := migration.BatchUpdate{AutoComplete: r.AutoComplete, MaxItemSize: r.MaxItemSize, LargeItemLimit: r.LargeItemLimit, BadItemLimit: r.BadItemLimit,
		NotificationEmails: r.NotificationEmails}
	for _, f := range []struct {
		name string
		in   *string
		out  **time.Time
	}{{"StartAfter", r.StartAfter, &u.StartAfter}, {"CompleteAfter", r.CompleteAfter, &u.CompleteAfter}} {
		if f.in != nil {
			t, err := parseTime(f.name, *f.in)
			if err != nil {
				return u, err
			}
			*f.out = &t
		}
	}
	for _, f := range []struct {
		name string
		in   *string
		out  **time.Duration
	}{{"IncrementalSyncInterval", r.IncrementalSyncInterval, &u.IncrementalSyncInterval}, {"ReportInterval", r.ReportInterval, &u.ReportInterval}} {
		if f.in != nil {
			d, err := parseDuration(f.name, *f.in)
			if err != nil {
				return u, err
			}
			*f.out = &d
		}
	}
	return u, nil
}

// moveSpec validates a move request.
func moveSpec(r apitypes.Move) (migration.MoveSpec, error) {
	s := migration.MoveSpec{EmailAddress: r.EmailAddress, Endpoint: r.Endpoint, TargetDeliveryDomain: r.TargetDeliveryDomain,
		UserName: r.UserName, Password: r.Password, SuspendWhenReadyToComplete: r.SuspendWhenReadyToComplete, MaxItemSize: r.MaxItemSize,
		LargeItemLimit: r.LargeItemLimit, BadItemLimit: r.BadItemLimit, NotificationEmails: r.NotificationEmails}
	if r.EmailAddress == "" {
		return s, errs.Invalidf("MissingField", "the user's target address is required").WithObject("EmailAddress").
			WithHint("pass the address, e.g. tenantferry move ann@fabrikam.example --endpoint contoso-ep")
	}
	var err error
	if s.CompleteAfter, err = parseTime("CompleteAfter", r.CompleteAfter); err != nil {
		return s, err
	}
	s.Filter, err = parseFilter(r.Since, r.Before, r.IncludeFolders, r.ExcludeFolders, r.MapFolders)
	return s, err
}

// userUpdate validates a migration user set request.
func userUpdate(r apitypes.MigrationUserSet) (migration.UserUpdate, error) {
	u := migration.UserUpdate{LargeItemLimit: r.LargeItemLimit, BadItemLimit: r.BadItemLimit}
	if r.CompleteAfter != nil {
		t, err := parseTime("CompleteAfter", *r.CompleteAfter)
		if err != nil {
			return u, err
		}
		u.CompleteAfter = &t
	}
	return u, nil
}

func (s *Server) migrationRoutes(h func(string, handlerFunc)) {
	t := "/api/v1/tenants/{t}"
	h("GET "+t+"/move-registrations", func(r *http.Request, p *admin.Principal) (any, error) {
		return s.Core.MoveRegistrations(r.Context(), p, r.PathValue("t"))
	})
	h("GET "+t+"/move-registrations/{id}", func(r *http.Request, p *admin.Principal) (any, error) {
		return s.Core.MoveRegistration(r.Context(), p, r.PathValue("t"), r.PathValue("id"))
	})
	h("POST "+t+"/move-registrations/{id}/cancel", func(r *http.Request, p *admin.Principal) (any, error) {
		return s.Core.CancelMoveRegistration(r.Context(), p, r.PathValue("t"), r.PathValue("id"))
	})
	h("POST "+t+"/batches", func(r *http.Request, p *admin.Principal) (any, error) {
		spec, err := decodeBatchCreate(r)
		if err != nil {
			return nil, err
		}
		b, err := s.Core.CreateBatch(r.Context(), p, r.PathValue("t"), spec)
		if err != nil {
			return nil, err
		}
		return created{b}, nil
	})
	h("POST "+t+"/batches/validate", func(r *http.Request, p *admin.Principal) (any, error) {
		spec, err := decodeBatchCreate(r)
		if err != nil {
			return nil, err
		}
		cs, err := s.Core.ValidateBatch(r.Context(), p, r.PathValue("t"), spec)
		if err != nil {
			return nil, err
		}
		return batchValidation(cs), nil
	})
	h("GET "+t+"/batches", func(r *http.Request, p *admin.Principal) (any, error) {
		return s.Core.ListBatches(r.Context(), p, r.PathValue("t"))
	})
	h("GET "+t+"/batches/{b}", func(r *http.Request, p *admin.Principal) (any, error) {
		return s.Core.GetBatch(r.Context(), p, r.PathValue("t"), r.PathValue("b"))
	})
	h("GET "+t+"/batches/{b}/users", func(r *http.Request, p *admin.Principal) (any, error) {
		pg, err := pageOf(r)
		if err != nil {
			return nil, err
		}
		us, next, err := s.Core.BatchUsersPage(r.Context(), p, r.PathValue("t"), r.PathValue("b"), pg)
		if err != nil {
			return nil, err
		}
		return paged{us, next}, nil
	})
	h("GET "+t+"/batches/{b}/report", func(r *http.Request, p *admin.Principal) (any, error) {
		return s.Core.BatchReport(r.Context(), p, r.PathValue("t"), r.PathValue("b"), r.URL.Query().Get("user"))
	})
	h("GET "+t+"/batches/{b}/dry-run", func(r *http.Request, p *admin.Principal) (any, error) {
		return s.Core.BatchDryRun(r.Context(), p, r.PathValue("t"), r.PathValue("b"), r.URL.Query().Get("user"))
	})
	h("PATCH "+t+"/batches/{b}", func(r *http.Request, p *admin.Principal) (any, error) {
		var req apitypes.BatchSet
		if err := s.decode(r, &req); err != nil {
			return nil, err
		}
		u, err := batchUpdate(req)
		if err != nil {
			return nil, err
		}
		return s.Core.SetBatch(r.Context(), p, r.PathValue("t"), r.PathValue("b"), u)
	})
	h("GET "+t+"/migration-users", func(r *http.Request, p *admin.Principal) (any, error) {
		return s.Core.MigrationUsers(r.Context(), p, r.PathValue("t"))
	})
	h("GET "+t+"/migration-users/{u}", func(r *http.Request, p *admin.Principal) (any, error) {
		return s.Core.MigrationUser(r.Context(), p, r.PathValue("t"), r.PathValue("u"))
	})
	h("POST "+t+"/moves", func(r *http.Request, p *admin.Principal) (any, error) {
		var req apitypes.Move
		if err := s.decode(r, &req); err != nil {
			return nil, err
		}
		spec, err := moveSpec(req)
		if err != nil {
			return nil, err
		}
		return s.Core.CreateMove(r.Context(), p, r.PathValue("t"), spec)
	})
	h("GET "+t+"/migration-templates/{kind}", func(r *http.Request, p *admin.Principal) (any, error) {
		return s.Core.MigrationTemplate(r.Context(), p, r.PathValue("t"), r.PathValue("kind"))
	})
	h("PUT "+t+"/migration-templates/{kind}", func(r *http.Request, p *admin.Principal) (any, error) {
		var req apitypes.MigrationTemplateSet
		if err := s.decode(r, &req); err != nil {
			return nil, err
		}
		if req.Subject == "" && req.Body == "" {
			return nil, errs.Invalidf("MissingField", "a template needs a Subject and a Body").WithHint("to return to the built-in text, DELETE the template")
		}
		return s.Core.SetMigrationTemplate(r.Context(), p, r.PathValue("t"), r.PathValue("kind"), req.Subject, req.Body)
	})
	h("DELETE "+t+"/migration-templates/{kind}", func(r *http.Request, p *admin.Principal) (any, error) {
		return s.Core.SetMigrationTemplate(r.Context(), p, r.PathValue("t"), r.PathValue("kind"), "", "")
	})
	h("PATCH "+t+"/migration-users/{u}", func(r *http.Request, p *admin.Principal) (any, error) {
		var req apitypes.MigrationUserSet
		if err := s.decode(r, &req); err != nil {
			return nil, err
		}
		u, err := userUpdate(req)
		if err != nil {
			return nil, err
		}
		return s.Core.SetMigrationUser(r.Context(), p, r.PathValue("t"), r.PathValue("u"), u)
	})
	h("POST "+t+"/migration-users/{u}/{action}", func(r *http.Request, p *admin.Principal) (any, error) {
		var req apitypes.MigrationUserAction
		if r.ContentLength != 0 {
			if err := s.decode(r, &req); err != nil {
				return nil, err
			}
		}
		return s.Core.MigrationUserCommand(r.Context(), p, r.PathValue("t"), r.PathValue("u"), admin.MigrationUserAction(r.PathValue("action")), req.ApproveSkippedItems)
	})
	h("POST "+t+"/batches/{b}/users", func(r *http.Request, p *admin.Principal) (any, error) {
		var req apitypes.BatchAddUsers
		if err := httpx.DecodeJSON(r, maxCSVBody, &req); err != nil {
			return nil, err
		}
		if req.Csv == "" {
			return nil, errs.Invalidf("InvalidCsv", "the CSV is empty").WithHint("pass --csv FILE with an EmailAddress column")
		}
		return s.Core.AddBatchUsers(r.Context(), p, r.PathValue("t"), r.PathValue("b"), []byte(req.Csv))
	})
	h("POST "+t+"/batches/{b}/{action}", func(r *http.Request, p *admin.Principal) (any, error) {
		var req apitypes.BatchAction
		if r.ContentLength != 0 {
			if err := s.decode(r, &req); err != nil {
				return nil, err
			}
		}
		action := admin.BatchAction(r.PathValue("action"))
		if action == admin.BatchComplete && req.CompleteAfter != "" {
			at, err := parseTime("CompleteAfter", req.CompleteAfter)
			if err != nil {
				return nil, err
			}
			return s.Core.SetBatch(r.Context(), p, r.PathValue("t"), r.PathValue("b"), migration.BatchUpdate{CompleteAfter: &at})
		}
		switch action {
		case admin.BatchStart, admin.BatchStop, admin.BatchSyncNow, admin.BatchComplete, admin.BatchRemove:
		default:
			return nil, httpx.ErrNoSuchRoute.Newf("unknown batch action %q", action).WithHint("use start, stop, sync-now, complete or remove")
		}
		return s.Core.BatchCommand(r.Context(), p, r.PathValue("t"), r.PathValue("b"), action, req.ApproveSkippedItems)
	})
	h("POST "+t+"/endpoints/{name}/test", func(r *http.Request, p *admin.Principal) (any, error) {
		var req apitypes.EndpointTest
		if r.ContentLength != 0 {
			if err := s.decode(r, &req); err != nil {
				return nil, err
			}
		}
		return s.Core.TestEndpoint(r.Context(), p, r.PathValue("t"), r.PathValue("name"), req.TestMailbox, req.TargetDeliveryDomain)
	})
	h("POST "+t+"/mailusers/prepare", func(r *http.Request, p *admin.Principal) (any, error) {
		var req apitypes.MailUsersPrepare
		if err := httpx.DecodeJSON(r, maxCSVBody, &req); err != nil {
			return nil, err
		}
		if req.Endpoint == "" {
			return nil, errs.Invalidf("MissingField", "Endpoint is required").WithHint("pass --endpoint NAME")
		}
		return s.Core.PrepareMailUsers(r.Context(), p, r.PathValue("t"), req.Endpoint, []byte(req.Csv), req.TargetDeliveryDomain, req.DryRun)
	})
}

// batchValidation is the API's view of a batch's row checks.
func batchValidation(cs []migration.RowCheck) apitypes.BatchValidation {
	v := apitypes.BatchValidation{Valid: true, Rows: make([]apitypes.BatchRowCheck, 0, len(cs))}
	for _, c := range cs {
		row := apitypes.BatchRowCheck{Line: c.Line, EmailAddress: c.EmailAddress, Status: apitypes.RowOK}
		if c.Err != nil {
			v.Valid = false
			row.Status, row.Code, row.Message, row.Hint = apitypes.RowError, c.Err.Code, c.Err.Message, c.Err.Hint
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}

// decodeBatchCreate reads a batch-create body (POST .../batches and
// .../batches/validate) into the core's spec.
func decodeBatchCreate(r *http.Request) (migration.BatchSpec, error) {
	var req apitypes.BatchCreate
	if err := httpx.DecodeJSON(r, maxCSVBody, &req); err != nil {
		return migration.BatchSpec{}, err
	}
	return batchSpec(req)
}
