package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/tenantferry/tenantferry/internal/api"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
)

// openAPISpec is the part of the document the tests read.
type openAPISpec struct {
	OpenAPI string
	Paths   map[string]map[string]struct {
		Summary  string
		Security *[]any
	}
}

// fetchSpec gets the served document without a token and loads it into
// the validator (libopenapi-validator), failing unless it validates
// against the OpenAPI 3.1 schema.
func fetchSpec(t *testing.T, s *tserver) (openAPISpec, validator.Validator) {
	t.Helper()
	r := s.call(t, "GET", api.OpenAPIPath, "", nil)
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET %s: %d %q %s", api.OpenAPIPath, r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	var spec openAPISpec
	if err := json.Unmarshal(r.Body, &spec); err != nil || spec.OpenAPI != "3.1.0" {
		t.Fatalf("not an OpenAPI 3.1 document (%v): %.200s", err, r.Body)
	}
	doc, err := libopenapi.NewDocument(r.Body)
	if err != nil {
		t.Fatalf("libopenapi: %v", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("document: %v", e)
		}
		t.FailNow()
	}
	return spec, v
}

// TestOpenAPI (issue 12 item 4): GET /api/v1/openapi.json serves an
// OpenAPI 3.1 document that validates; every route of the server's route
// table is in it with its method, and every operation in it is routed
// (without a token, a routed operation answers 401, never NoSuchRoute).
func TestOpenAPI(t *testing.T) {
	s := newServer(t, db.SQLite)
	spec, _ := fetchSpec(t, s)

	table := s.API.RouteTable()
	if len(table) < 80 {
		t.Fatalf("route table of %d routes", len(table))
	}
	inTable := map[string]bool{}
	for _, route := range table {
		method, path, _ := strings.Cut(route, " ")
		inTable[strings.ToLower(method)+" "+path] = true
		op, ok := spec.Paths[path][strings.ToLower(method)]
		if !ok {
			t.Errorf("route %s is not in the document", route)
		} else if op.Summary == "" || op.Summary == "undocumented" {
			t.Errorf("route %s is not described", route)
		}
	}
	var ops []string
	for path, item := range spec.Paths {
		for method, op := range item {
			ops = append(ops, method+" "+path)
			if !inTable[method+" "+path] {
				t.Errorf("the document has %s %s, which is not a route", method, path)
			}
			target := strings.NewReplacer("{action}", "start", "{kind}", "before", "{right}", "SendAs").Replace(path)
			target = strings.NewReplacer("{", "x", "}", "").Replace(target)
			r := s.call(t, strings.ToUpper(method), target, "", nil)
			if r.Status == 404 && strings.Contains(string(r.Body), "NoSuchRoute") {
				t.Errorf("%s %s (as %s) is not routed", method, path, target)
			}
			if op.Security == nil && r.Status != 401 {
				t.Errorf("%s %s without a token: %d, want 401", method, path, r.Status)
			}
		}
	}
	sort.Strings(ops)
	if len(ops) != len(table) {
		t.Errorf("%d operations for %d routes: %v", len(ops), len(table), ops)
	}
}

// validate sends a request and checks it and the reply against the
// document's schemas.
func validate(t *testing.T, v validator.Validator, s *tserver, method, path, token string, body any, wantStatus int) {
	t.Helper()
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	newReq := func() *http.Request {
		req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		} else {
			req.Body = http.NoBody
		}
		req.Header.Set("Authorization", "Bearer "+token)
		return req
	}
	resp, err := http.DefaultClient.Do(newReq())
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, wantStatus, b)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if ok, errs := v.ValidateHttpRequestResponse(newReq(), resp); !ok {
		for _, e := range errs {
			t.Errorf("%s %s: %v", method, path, e)
		}
		t.Fatalf("reply: %.600s", b)
	}
}

// TestOpenAPIDescribesReplies: real requests to a populated server and
// their replies — objects of every kind, lists, creations, 204s and
// problems — validate against the document.
func TestOpenAPIDescribesReplies(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		s := newServer(t, dialect)
		c, _ := s.world(t)
		_, v := fetchSpec(t, s)
		p, op, tok := tp(c.Name), s.Op, c.Token
		for _, get := range []string{"/api/v1/whoami", "/api/v1/tenants", p, p + "/domains", p + "/domains/" + c.Domain,
			p + "/domains/" + c.Domain + "/dns", p + "/domains/" + c.InitialDomain + "/dkim",
			p + "/mailboxes", p + "/mailboxes/user01", p + "/mailboxes/user01/stats", p + "/mailboxes/user01/permissions",
			p + "/mailusers", p + "/mailusers/mu01", p + "/groups", p + "/groups/MigrationScope",
			p + "/apps", p + "/apps/" + c.App.AppId, p + "/consents", p + "/orgrels", p + "/orgrels/" + c.OrgRel.Name,
			p + "/endpoints", p + "/endpoints/" + c.Endpoint.Name, p + "/batches", p + "/batches/wave1", p + "/batches/wave1/users",
			p + "/batches/wave1/report", p + "/migration-users", p + "/migration-users/mu01@" + c.Domain,
			p + "/migration-templates/before", p + "/move-registrations"} {
			validate(t, v, s, "GET", get, tok, nil, 200)
		}
		validate(t, v, s, "GET", "/api/v1/whoami", op, nil, 200)
		validate(t, v, s, "GET", "/api/v1/storage/stats", op, nil, 200)
		validate(t, v, s, "POST", "/api/v1/tenants", op, map[string]any{"Name": "northwind"}, 201)
		validate(t, v, s, "POST", p+"/mailboxes", tok, map[string]any{"Alias": "user02", "Password": "pw", "DisplayName": "Two"}, 201)
		validate(t, v, s, "PATCH", p+"/mailboxes/user02", tok, map[string]any{"Quota": 1 << 30}, 200)
		validate(t, v, s, "POST", p+"/mailboxes/user02/permissions", tok, map[string]any{"User": "user01", "AccessRights": "SendAs"}, 200)
		validate(t, v, s, "DELETE", p+"/mailboxes/user02/permissions/user01/SendAs", tok, nil, 204)
		validate(t, v, s, "POST", p+"/domains/"+c.InitialDomain+"/dkim", tok, map[string]any{"Algorithm": "ed25519"}, 201)
		validate(t, v, s, "POST", p+"/apps/"+c.App.AppId+"/secrets", tok, map[string]any{"Expires": "720h"}, 201)
		validate(t, v, s, "PATCH", p+"/batches/wave1", tok, map[string]any{"ReportInterval": "1h"}, 200)
		validate(t, v, s, "DELETE", p+"/mailboxes/user02", tok, nil, 204)
		// Problems: the default response.
		validate(t, v, s, "GET", p+"/mailboxes/nobody", tok, nil, 404)
		validate(t, v, s, "POST", p+"/mailboxes", tok, map[string]any{"Alias": "x"}, 400)
		validate(t, v, s, "GET", "/api/v1/tenants", "tfa_nope", nil, 401)
	})
}
