package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/tenantferry/tenantferry/internal/httpx"
)

// OpenAPIPath is where the admin API publishes its OpenAPI 3.1 document
// (no token needed).
const OpenAPIPath = "/api/v1/openapi.json"

// The OpenAPI document is generated, never written by hand: its paths
// and methods are the route table Routes registered (Server.RouteTable),
// its schemas the Go types of the bodies (routeDocs) by reflection
// (schemas), so a route or a field added in Go is in the document, and a
// route without a description is caught by TestOpenAPI.

// openAPI serves the document.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	b, err := s.OpenAPI()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", httpx.JSONMediaType)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(b)
}

// OpenAPI returns the OpenAPI 3.1 document (JSON) of the routes Routes
// registered.
func (s *Server) OpenAPI() ([]byte, error) {
	s.once.Do(func() { s.spec, s.specErr = json.MarshalIndent(openAPIDocument(s.routes), "", " ") })
	return s.spec, s.specErr
}

// wildcard matches a path wildcard of a ServeMux pattern.
var wildcard = regexp.MustCompile(`\{([A-Za-z0-9_]+)(\.\.\.)?\}`)

// objectType is the reply type of routes answering an open JSON object.
var objectType = reflect.TypeFor[object]()

// openAPIDocument builds the document of the route patterns.
func openAPIDocument(routes []string) jsonObject {
	g := newSchemas()
	for _, d := range routeDocs {
		if d.body != nil {
			g.markRequest(reflect.TypeOf(d.body))
		}
	}
	g.of(reflect.TypeFor[httpx.Problem]())
	paths := jsonObject{}
	for _, pattern := range routes {
		method, path, _ := strings.Cut(pattern, " ")
		path = wildcard.ReplaceAllString(path, "{$1}")
		item, _ := paths[path].(jsonObject)
		if item == nil {
			item = jsonObject{}
			paths[path] = item
		}
		item[strings.ToLower(method)] = operation(g, pattern)
	}
	return jsonObject{
		"openapi": "3.1.0",
		"info": jsonObject{"title": "tenantferry admin API", "version": "1",
			"description": "The admin HTTP API (docs/api.md). JSON in and out, field names in PascalCase; " +
				"every error is an RFC 9457 problem (application/problem+json) with the extension members Code, Hint and Object."},
		"security": []any{jsonObject{"bearerAuth": []any{}}},
		"paths":    paths,
		"components": jsonObject{
			"schemas": g.components,
			"securitySchemes": jsonObject{"bearerAuth": jsonObject{"type": "http", "scheme": "bearer",
				"description": "the operator token (DATA/operator.token) or a tenant-admin token"}},
			"responses": jsonObject{"Problem": jsonObject{"description": "an error: an RFC 9457 problem",
				"content": jsonObject{httpx.ProblemMediaType: jsonObject{"schema": jsonObject{"$ref": "#/components/schemas/Problem"}}}}},
		},
	}
}

// operation builds the operation of one route.
func operation(g *schemas, pattern string) jsonObject {
	d, ok := routeDocs[pattern]
	if !ok {
		d = routeDoc{summary: "undocumented", reply: object{}}
	}
	op := jsonObject{"summary": d.summary, "operationId": operationID(pattern)}
	if ps := parameters(pattern, d); len(ps) > 0 {
		op["parameters"] = ps
	}
	if d.body != nil {
		op["requestBody"] = jsonObject{"required": !d.optional,
			"content": jsonObject{httpx.JSONMediaType: jsonObject{"schema": g.of(reflect.TypeOf(d.body))}}}
	}
	responses := jsonObject{"default": jsonObject{"$ref": "#/components/responses/Problem"}}
	op["responses"] = responses
	switch d.special {
	case "openapi":
		op["security"] = []any{}
		responses["200"] = jsonObject{"description": "the OpenAPI 3.1 document",
			"content": jsonObject{httpx.JSONMediaType: jsonObject{"schema": jsonObject{"type": "object"}}}}
		return op
	case "password":
		op["security"] = []any{}
		if strings.HasPrefix(pattern, "POST ") {
			op["requestBody"] = jsonObject{"required": true, "content": jsonObject{"application/x-www-form-urlencoded": jsonObject{"schema": jsonObject{
				"type": "object", "properties": jsonObject{"token": jsonObject{"type": "string"}, "password": jsonObject{"type": "string"},
					"confirm": jsonObject{"type": "string"}}}}}}
		} else {
			op["parameters"] = []any{jsonObject{"name": "token", "in": "query", "description": "the one-time link's token", "schema": jsonObject{"type": "string"}}}
		}
		responses["200"] = jsonObject{"description": "an HTML page", "content": jsonObject{"text/html": jsonObject{"schema": jsonObject{"type": "string"}}}}
		return op
	case "import":
		op["requestBody"] = jsonObject{"required": true, "description": "the mbox, or a tar of the directory, with a Content-Length",
			"content": jsonObject{"application/octet-stream": jsonObject{"schema": jsonObject{}}}}
	case "csv":
		op["requestBody"] = jsonObject{"required": true, "description": "the CSV file: a header row, then one mailbox a row (docs/api.md)",
			"content": jsonObject{"text/csv": jsonObject{"schema": jsonObject{"type": "string"}}}}
	}
	if d.reply == nil {
		responses["204"] = jsonObject{"description": "done"}
		return op
	}
	status := d.status
	if status == 0 {
		status = http.StatusOK
	}
	schema := jsonObject{"type": "object"}
	if t := reflect.TypeOf(d.reply); t != objectType {
		schema = g.of(t)
	}
	resp := jsonObject{"description": http.StatusText(status),
		"content": jsonObject{httpx.JSONMediaType: jsonObject{"schema": schema}}}
	if d.paged {
		resp["headers"] = jsonObject{
			NextCursorHeader: jsonObject{"description": "the cursor of the next page; absent on the last page", "schema": jsonObject{"type": "string"}},
			"Link":           jsonObject{"description": `the next page's URL, rel="next"; absent on the last page`, "schema": jsonObject{"type": "string"}},
		}
	}
	responses[statusKey(status)] = resp
	return op
}

// statusKey is a status as a responses key.
func statusKey(status int) string { return strconv.Itoa(status) }

// operationID derives a unique operation id from a route pattern, e.g.
// get_api_v1_tenants_t_domains.
func operationID(pattern string) string {
	var b strings.Builder
	under := false
	for _, c := range strings.ToLower(pattern) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
			under = false
		} else if !under {
			b.WriteByte('_')
			under = true
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}

// parameters lists a route's path and query parameters.
func parameters(pattern string, d routeDoc) []any {
	var out []any
	for _, m := range wildcard.FindAllStringSubmatch(pattern, -1) {
		p, ok := pathParams[m[1]]
		if !ok {
			p = param{name: m[1]}
		}
		if e, ok := actionEnums[pattern]; ok && m[1] == "action" {
			p.enum = e
		}
		out = append(out, paramObject(p, "path"))
	}
	for _, q := range d.query {
		out = append(out, paramObject(q, "query"))
	}
	if d.paged {
		out = append(out, paramObject(param{name: "limit", desc: "rows per page: 1 to 1000, default 100"}, "query"),
			paramObject(param{name: "cursor", desc: "the " + NextCursorHeader + " of the previous page"}, "query"))
	}
	return out
}

func paramObject(p param, in string) jsonObject {
	s := jsonObject{"type": "string"}
	if len(p.enum) > 0 {
		s["enum"] = p.enum
	}
	o := jsonObject{"name": p.name, "in": in, "schema": s}
	if p.desc != "" {
		o["description"] = p.desc
	}
	if in == "path" {
		o["required"] = true
	}
	return o
}
