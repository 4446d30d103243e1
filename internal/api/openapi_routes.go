package api

import (
	"net/http"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/apitypes"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// routeDoc describes one route of the table for the OpenAPI document: the
// Go types of its bodies (the schemas come from them) and its parameters.
type routeDoc struct {
	summary string
	// body is a zero value of the JSON request body's type (nil: none);
	// optional marks a body that may be left out.
	body     any
	optional bool
	// reply is a zero value of the reply's type; nil means 204 No Content.
	reply any
	// status is the success status (0: 200, or 204 without a reply).
	status int
	// query lists the query parameters.
	query []param
	// special marks a route whose bodies are not JSON (see specialOp).
	special string
	// paged marks a list that comes a page at a time (limit and cursor
	// query parameters, the next page's cursor in NextCursorHeader).
	paged bool
}

// param is a query or path parameter.
type param struct {
	name, desc string
	enum       []string
}

// object is the reply of a route whose figures the core builds as an
// open JSON object (storage figures, import counts).
type object struct{}

// pathParams describes the path wildcards of the routes.
var pathParams = map[string]param{
	"t":      {name: "t", desc: "tenant: its ID, name or any accepted domain"},
	"d":      {name: "d", desc: "domain name"},
	"id":     {name: "id", desc: "recipient: id, ExchangeGuid, SMTP address, alias, name or LegacyExchangeDN (move registrations: a registration Id or a mailbox)"},
	"m":      {name: "m", desc: "group member (a recipient reference)"},
	"user":   {name: "user", desc: "the user a permission is granted to"},
	"right":  {name: "right", desc: "access right", enum: []string{"FullAccess", "SendAs"}},
	"app":    {name: "app", desc: "AppId"},
	"name":   {name: "name", desc: "object name"},
	"b":      {name: "b", desc: "batch name"},
	"u":      {name: "u", desc: "migration user: its target address"},
	"kind":   {name: "kind", desc: "template kind", enum: []string{migration.TemplateBefore, migration.TemplateAfter}},
	"action": {name: "action", desc: "action"},
}

// actionEnums are the values of the {action} wildcard per route.
var actionEnums = map[string][]string{
	"POST /api/v1/tenants/{t}/batches/{b}/{action}": {string(admin.BatchStart), string(admin.BatchStop), string(admin.BatchSyncNow),
		string(admin.BatchComplete), string(admin.BatchRemove)},
	"POST /api/v1/tenants/{t}/migration-users/{u}/{action}": {string(admin.UserStop), string(admin.UserStart), string(admin.UserRemove),
		string(admin.UserComplete), string(admin.UserApprove), string(admin.UserResync)},
}

// recipientDocs describes the CRUD routes of one recipient kind.
func recipientDocs(docs map[string]routeDoc, path, what string) {
	base := "/api/v1/tenants/{t}/" + path
	docs["GET "+base] = routeDoc{summary: "List the tenant's " + what + "s", reply: []apitypes.RecipientView{}, paged: true,
		query: []param{{name: "search", desc: "only those whose name, alias, display name or an SMTP address contains this text (case-insensitive)"}}}
	docs["POST "+base] = routeDoc{summary: "Create a " + what, body: apitypes.Recipient{}, reply: apitypes.RecipientView{}, status: http.StatusCreated}
	docs["GET "+base+"/{id}"] = routeDoc{summary: "Show a " + what, reply: apitypes.RecipientView{}}
	docs["PATCH "+base+"/{id}"] = routeDoc{summary: "Change a " + what, body: apitypes.Recipient{}, reply: apitypes.RecipientView{}}
	docs["DELETE "+base+"/{id}"] = routeDoc{summary: "Delete a " + what}
}

// routeDocs describes every route Routes registers (TestOpenAPIRoutes
// checks that the two agree).
var routeDocs = func() map[string]routeDoc {
	const t = "/api/v1/tenants/{t}"
	users := []param{{name: "user", desc: "only this user (target address)"}}
	d := map[string]routeDoc{
		"GET " + OpenAPIPath:                 {summary: "This OpenAPI document (no token needed)", special: "openapi"},
		"GET " + migration.PasswordPath:      {summary: "The set-password page of a moved user's one-time link (no token: the link's token)", special: "password"},
		"POST " + migration.PasswordPath:     {summary: "Set a moved user's password (the page's form)", special: "password"},
		"GET /api/v1/whoami":                 {summary: "Who the token is", reply: apitypes.Whoami{}},
		"GET /api/v1/storage/stats":          {summary: "Blob storage figures (operator)", reply: object{}},
		"POST /api/v1/storage/gc":            {summary: "Reclaim space now (operator)", body: apitypes.StorageGC{}, optional: true, reply: object{}},
		"POST /api/v1/tenants":               {summary: "Create a tenant (operator); the reply carries its AdminToken once", body: apitypes.TenantCreate{}, reply: apitypes.TenantView{}, status: http.StatusCreated},
		"GET /api/v1/tenants":                {summary: "List tenants (a tenant admin sees its own)", reply: []apitypes.TenantView{}, paged: true},
		"GET " + t:                           {summary: "Show a tenant", reply: apitypes.TenantView{}},
		"PATCH " + t:                         {summary: "Change a tenant's quota (operator)", body: apitypes.TenantSet{}, reply: apitypes.TenantView{}},
		"DELETE " + t:                        {summary: "Delete a tenant (operator)"},
		"POST " + t + "/admin-tokens":        {summary: "Issue a tenant-admin token (in AdminToken, once)", body: apitypes.AdminTokenCreate{}, optional: true, reply: apitypes.TenantView{}, status: http.StatusCreated},
		"GET " + t + "/admin-tokens":         {summary: "List the tenant's admin tokens (never the tokens)", reply: []apitypes.AdminTokenView{}},
		"DELETE " + t + "/admin-tokens/{id}": {summary: "Revoke a tenant-admin token: it authenticates no one from then on"},
		"GET /api/v1/admin-tokens":           {summary: "List the operator's tokens (operator; never the tokens)", reply: []apitypes.AdminTokenView{}},
		"POST /api/v1/admin-tokens":          {summary: "Issue an operator token (operator; in AdminToken, once)", body: apitypes.AdminTokenCreate{}, optional: true, reply: apitypes.OperatorTokenIssued{}, status: http.StatusCreated},
		"DELETE /api/v1/admin-tokens/{id}":   {summary: "Revoke an operator token (operator); the last one is refused"},
		"GET " + t + "/domains":              {summary: "List the tenant's domains", reply: []apitypes.DomainView{}},
		"POST " + t + "/domains":             {summary: "Add a domain (Pending until verified)", body: apitypes.DomainAdd{}, reply: apitypes.DomainView{}, status: http.StatusCreated},
		"GET " + t + "/domains/{d}":          {summary: "Show a domain", reply: apitypes.DomainView{}},
		"DELETE " + t + "/domains/{d}":       {summary: "Remove a domain"},
		"POST " + t + "/domains/{d}/verify":  {summary: "Verify a pending domain by its DNS TXT record", reply: apitypes.DomainView{}},
		"POST " + t + "/domains/{d}/approve": {summary: "Accept a pending domain without DNS proof (operator)", reply: apitypes.DomainView{}},
		"GET " + t + "/domains/{d}/dns":      {summary: "The DNS records to publish", reply: []apitypes.DNSRecordView{}},
		"GET " + t + "/domains/{d}/check":    {summary: "Look the domain's records up in DNS", reply: []apitypes.DNSCheckView{}},
		"GET " + t + "/domains/{d}/dkim":     {summary: "List the domain's DKIM keys", reply: []apitypes.DkimKeyView{}},
		"POST " + t + "/domains/{d}/dkim":    {summary: "Create the domain's first DKIM keys", body: apitypes.DkimAdd{}, optional: true, reply: []apitypes.DkimKeyView{}, status: http.StatusCreated},
		"POST " + t + "/domains/{d}/dkim/rotate": {summary: "Replace the domain's DKIM keys", body: apitypes.DkimRotate{}, optional: true, reply: []apitypes.DkimKeyView{},
			status: http.StatusCreated},
		"GET " + t + "/mailboxes/{id}/stats": {summary: "A mailbox's item counts and sizes per folder", reply: apitypes.MailboxStats{}},
		"POST " + t + "/mailboxes/{id}/import": {summary: "Import an mbox, or a tar of a maildir or of .eml files, into a mailbox (with a Content-Length)", special: "import",
			reply: object{}, query: []param{{name: "format", desc: "the upload's format", enum: []string{"mbox", "maildir", "emldir"}},
				{name: "folder", desc: "the target folder"}, {name: "archive", desc: "1: into the archive mailbox", enum: []string{"1"}}}},
		"POST " + t + "/groups/{id}/members":       {summary: "Add a member to a group (the reply is the change only)", body: apitypes.GroupMemberAdd{}, reply: apitypes.MemberChangeView{}},
		"DELETE " + t + "/groups/{id}/members/{m}": {summary: "Remove a member from a group (the reply is the change only)", reply: apitypes.MemberChangeView{}},
		"GET " + t + "/groups/{id}/members":        {summary: "List a group's members", reply: []apitypes.RecipientView{}, paged: true},
		"POST " + t + "/mailboxes/bulk": {summary: "Create many mailboxes from a CSV file (all or, listing every bad row, none)", special: "csv",
			reply: admin.BulkCreated{}, status: http.StatusCreated},
		"GET " + t + "/mailboxes/{id}/permissions":                   {summary: "List the permissions granted on a mailbox", reply: []apitypes.PermissionView{}},
		"POST " + t + "/mailboxes/{id}/permissions":                  {summary: "Grant FullAccess or SendAs on a mailbox", body: apitypes.PermissionAdd{}, reply: apitypes.PermissionView{}},
		"DELETE " + t + "/mailboxes/{id}/permissions/{user}/{right}": {summary: "Withdraw a permission"},
		"POST " + t + "/apps":                                        {summary: "Register a migration app", body: apitypes.AppCreate{}, reply: apitypes.AppView{}, status: http.StatusCreated},
		"GET " + t + "/apps":                                         {summary: "List apps", reply: []apitypes.AppView{}},
		"GET " + t + "/apps/{app}":                                   {summary: "Show an app", reply: apitypes.AppView{}},
		"DELETE " + t + "/apps/{app}":                                {summary: "Delete an app"},
		"POST " + t + "/apps/{app}/secrets":                          {summary: "Add a client secret (SecretText, once)", body: apitypes.AppSecretAdd{}, optional: true, reply: admin.SecretCreated{}, status: http.StatusCreated},
		"GET " + t + "/apps/{app}/consent-url": {summary: "The admin-consent URL for the source tenant's admin", reply: apitypes.ConsentURL{},
			query: []param{{name: "source-server", desc: "the source server's URL"}, {name: "source-tenant", desc: "the source tenant's domain"}}},
		"POST " + t + "/consents":           {summary: "Consent to another tenant's migration app", body: apitypes.ConsentGrant{}, reply: apitypes.ConsentView{}, status: http.StatusCreated},
		"GET " + t + "/consents":            {summary: "List consents", reply: []apitypes.ConsentView{}},
		"DELETE " + t + "/consents/{app}":   {summary: "Revoke a consent"},
		"POST " + t + "/orgrels":            {summary: "Create an organization relationship", body: apitypes.OrgRel{}, reply: apitypes.OrgRelView{}, status: http.StatusCreated},
		"GET " + t + "/orgrels":             {summary: "List organization relationships", reply: []apitypes.OrgRelView{}},
		"GET " + t + "/orgrels/{name}":      {summary: "Show an organization relationship", reply: apitypes.OrgRelView{}},
		"PATCH " + t + "/orgrels/{name}":    {summary: "Change an organization relationship", body: apitypes.OrgRel{}, reply: apitypes.OrgRelView{}},
		"DELETE " + t + "/orgrels/{name}":   {summary: "Delete an organization relationship"},
		"POST " + t + "/endpoints":          {summary: "Create a migration endpoint", body: apitypes.EndpointCreate{}, reply: apitypes.EndpointView{}, status: http.StatusCreated},
		"GET " + t + "/endpoints":           {summary: "List migration endpoints", reply: []apitypes.EndpointView{}},
		"GET " + t + "/endpoints/{name}":    {summary: "Show a migration endpoint", reply: apitypes.EndpointView{}},
		"PATCH " + t + "/endpoints/{name}":  {summary: "Change a migration endpoint", body: apitypes.EndpointUpdate{}, reply: apitypes.EndpointView{}},
		"DELETE " + t + "/endpoints/{name}": {summary: "Delete a migration endpoint"},
		"POST " + t + "/endpoints/{name}/test": {summary: "Test a migration endpoint (Test-MigrationServerAvailability)", body: apitypes.EndpointTest{}, optional: true,
			reply: migration.TestResult{}},
		"GET " + t + "/move-registrations":              {summary: "The moves other tenants registered for this tenant's mailboxes", reply: []replication.Registration{}},
		"GET " + t + "/move-registrations/{id}":         {summary: "The registrations a registration Id or a mailbox names", reply: []replication.Registration{}},
		"POST " + t + "/move-registrations/{id}/cancel": {summary: "Cancel registered moves", reply: []replication.Registration{}},
		"POST " + t + "/batches":                        {summary: "Create a migration batch", body: apitypes.BatchCreate{}, reply: migration.BatchView{}, status: http.StatusCreated},
		"GET " + t + "/batches":                         {summary: "List migration batches", reply: []migration.BatchView{}},
		"POST " + t + "/batches/validate":               {summary: "Check a batch and each CSV row as create would; writes nothing", body: apitypes.BatchCreate{}, reply: apitypes.BatchValidation{}},
		"GET " + t + "/batches/{b}":                     {summary: "Show a migration batch", reply: migration.BatchView{}},
		"PATCH " + t + "/batches/{b}":                   {summary: "Change a batch (Set-MigrationBatch)", body: apitypes.BatchSet{}, reply: migration.BatchView{}},
		"GET " + t + "/batches/{b}/users":               {summary: "The users of a batch, in CSV order", reply: []migration.UserView{}, paged: true},
		"POST " + t + "/batches/{b}/users":              {summary: "Add users to a batch", body: apitypes.BatchAddUsers{}, reply: migration.BatchView{}},
		"GET " + t + "/batches/{b}/report":              {summary: "The users' reports: skipped items and log", reply: []migration.ReportView{}, query: users},
		"GET " + t + "/batches/{b}/dry-run":             {summary: "What the moves would copy under the batch's filter", reply: []migration.DryRunMailbox{}, query: users},
		"POST " + t + "/batches/{b}/{action}":           {summary: "Start, stop, sync, complete or remove a batch", body: apitypes.BatchAction{}, optional: true, reply: migration.BatchView{}},
		"GET " + t + "/migration-users":                 {summary: "Every user of the active batches", reply: []migration.UserView{}},
		"GET " + t + "/migration-users/{u}":             {summary: "Show a migration user", reply: migration.UserView{}},
		"PATCH " + t + "/migration-users/{u}":           {summary: "Change one user's CompleteAfter and item limits", body: apitypes.MigrationUserSet{}, reply: migration.UserView{}},
		"POST " + t + "/migration-users/{u}/{action}": {summary: "Stop, start, remove, complete, approve or resync one user", body: apitypes.MigrationUserAction{}, optional: true,
			reply: migration.UserView{}},
		"POST " + t + "/moves":                        {summary: "Move one mailbox (New-MoveRequest): a one-user batch", body: apitypes.Move{}, reply: migration.BatchView{}},
		"GET " + t + "/migration-templates/{kind}":    {summary: "A migration mail template", reply: migration.Template{}},
		"PUT " + t + "/migration-templates/{kind}":    {summary: "Replace a migration mail template", body: apitypes.MigrationTemplateSet{}, reply: migration.Template{}},
		"DELETE " + t + "/migration-templates/{kind}": {summary: "Return a template to the built-in text", reply: migration.Template{}},
		"POST " + t + "/mailusers/prepare":            {summary: "Create or stamp target MailUsers from the source identities", body: apitypes.MailUsersPrepare{}, reply: []migration.PrepareRow{}},
	}
	recipientDocs(d, "mailboxes", "mailbox")
	recipientDocs(d, "mailusers", "mail user")
	recipientDocs(d, "groups", "group")
	return d
}()
