package directory

import (
	"context"
	"database/sql"
	"strings"

	"github.com/tenantferry/tenantferry/internal/db"
)

// The lists of the directory read a page of rows with one query and what
// the rows carry (a recipient's proxies, a tenant's domains) with one more
// for the whole page: never one query per row.

// ListRecipients lists all the tenant's recipients of the given types (all
// when none), ordered by name.
func (x *Directory) ListRecipients(ctx context.Context, tenantID string, types ...RecipientType) ([]*Recipient, error) {
	var out []*Recipient
	after := ""
	for {
		rs, more, err := x.recipientRows(ctx, x.d.Read(), tenantID, after, "", MaxPageSize, types)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
		if !more {
			return out, nil
		}
		after = rs[len(rs)-1].nameKey()
	}
}

// ListRecipientsPage returns one page of the tenant's recipients of the
// given types (all when none), ordered by name, and the cursor of the next
// page ("" after the last). pg.Search narrows the list (see Page): the
// search is part of the list a cursor names.
func (x *Directory) ListRecipientsPage(ctx context.Context, tenantID string, pg Page, types ...RecipientType) ([]*Recipient, string, error) {
	n, err := pg.size()
	if err != nil {
		return nil, "", err
	}
	search := strings.ToLower(strings.TrimSpace(pg.Search))
	if len(search) > MaxSearchLen {
		return nil, "", ErrInvalidSearch.Newf("the search text is %d bytes long, more than %d", len(search), MaxSearchLen).
			WithHint("search for a shorter part of the name, alias, display name or address")
	}
	list := typesKey(types)
	if search != "" {
		list += "?search=" + search
	}
	after, err := x.decodeCursor(pg.Cursor, list, tenantID)
	if err != nil {
		return nil, "", err
	}
	rs, more, err := x.recipientRows(ctx, x.d.Read(), tenantID, after, search, n, types)
	if err != nil || !more {
		return rs, "", err
	}
	next, err := x.encodeCursor(list, tenantID, rs[len(rs)-1].nameKey())
	return rs, next, err
}

// nameKey is the recipient's sort key (name_key).
func (r *Recipient) nameKey() string { return strings.ToLower(r.Name) }

// recipientRows reads up to n recipients after the name key after, with
// their proxies, and whether more follow; search (lower-cased, "": none)
// keeps those whose name, alias, display name or an SMTP address of the
// same tenant contains it.
func (x *Directory) recipientRows(ctx context.Context, q db.Querier, tenantID, after, search string, n int, types []RecipientType) ([]*Recipient, bool, error) {
	args := []any{tenantID}
	where := ""
	if len(types) > 0 {
		where = " AND type IN (" + db.InList(len(types)) + ")"
		for _, t := range types {
			args = append(args, string(t))
		}
	}
	if after != "" {
		where += " AND name_key > ?"
		args = append(args, after)
	}
	if search != "" {
		like := "%" + likeEscaper.Replace(search) + "%"
		where += ` AND (name_key LIKE ? ESCAPE '\' OR alias_key LIKE ? ESCAPE '\' OR ` + x.d.Lower("display_name") + ` LIKE ? ESCAPE '\'
			OR id IN (SELECT recipient_id FROM proxies WHERE tenant_id = ? AND prefix = 'smtp' AND addr_key LIKE ? ESCAPE '\'))`
		args = append(args, like, like, like, tenantID, like)
	}
	args = append(args, n+1)
	rows, err := q.QueryContext(ctx, `SELECT `+recipientCols+` FROM recipients WHERE tenant_id = ?`+where+` ORDER BY name_key LIMIT ?`, args...)
	if err != nil {
		return nil, false, err
	}
	return pageRows(ctx, q, rows, n)
}

// likeEscaper escapes the wildcards of a LIKE pattern (with ESCAPE '\').
var likeEscaper = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)

// scanRecipients reads and closes rows of recipientCols.
func scanRecipients(rows *sql.Rows) ([]*Recipient, error) {
	defer rows.Close()
	var out []*Recipient
	for rows.Next() {
		r, err := scanRecipient(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// loadProxiesOf fills the proxies of the recipients with one query.
func loadProxiesOf(ctx context.Context, q db.Querier, rs []*Recipient) error {
	if len(rs) == 0 {
		return nil
	}
	byID := make(map[string]*Recipient, len(rs))
	args := make([]any, len(rs))
	for i, r := range rs {
		byID[r.ID] = r
		args[i] = r.ID
	}
	rows, err := q.QueryContext(ctx, `SELECT recipient_id, prefix, address, is_primary FROM proxies WHERE recipient_id IN (`+
		db.InList(len(rs))+`) ORDER BY position, id`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var p Proxy
		if err := rows.Scan(&id, &p.Prefix, &p.Address, &p.Primary); err != nil {
			return err
		}
		if r := byID[id]; r != nil {
			r.Proxies = append(r.Proxies, p)
		}
	}
	for _, r := range rs {
		sortProxies(r.Proxies)
	}
	return rows.Err()
}

// ListTenants lists all tenants ordered by name.
func (x *Directory) ListTenants(ctx context.Context) ([]*Tenant, error) {
	var out []*Tenant
	after := ""
	for {
		ts, more, err := x.tenantRows(ctx, x.d.Read(), after, MaxPageSize)
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
		if !more {
			return out, nil
		}
		after = ts[len(ts)-1].Name
	}
}

// tenantList names the tenant list in cursors.
const tenantList = "tenants"

// ListTenantsPage returns one page of the tenants ordered by name, and the
// cursor of the next page ("" after the last).
func (x *Directory) ListTenantsPage(ctx context.Context, pg Page) ([]*Tenant, string, error) {
	n, err := pg.size()
	if err != nil {
		return nil, "", err
	}
	after, err := x.decodeCursor(pg.Cursor, tenantList, "")
	if err != nil {
		return nil, "", err
	}
	ts, more, err := x.tenantRows(ctx, x.d.Read(), after, n)
	if err != nil || !more {
		return ts, "", err
	}
	next, err := x.encodeCursor(tenantList, "", ts[len(ts)-1].Name)
	return ts, next, err
}

// tenantRows reads up to n tenants named after after, with their domains,
// and whether more follow.
func (x *Directory) tenantRows(ctx context.Context, q db.Querier, after string, n int) ([]*Tenant, bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, name, initial_domain, quota_bytes, created_at FROM tenants WHERE name > ? ORDER BY name LIMIT ?`, after, n+1)
	if err != nil {
		return nil, false, err
	}
	var out []*Tenant
	for rows.Next() {
		t := &Tenant{}
		var created int64
		if err := rows.Scan(&t.ID, &t.Name, &t.InitialDomain, &t.Quota, &created); err != nil {
			rows.Close()
			return nil, false, err
		}
		t.CreatedAt = db.Time(created)
		out = append(out, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	more := len(out) > n
	if more {
		out = out[:n]
	}
	return out, more, loadDomainsOf(ctx, q, out)
}

// loadDomainsOf fills the domains of the tenants (initial domain first)
// with one query.
func loadDomainsOf(ctx context.Context, q db.Querier, ts []*Tenant) error {
	if len(ts) == 0 {
		return nil
	}
	byID := make(map[string]*Tenant, len(ts))
	args := make([]any, len(ts))
	for i, t := range ts {
		byID[t.ID] = t
		args[i] = t.ID
	}
	rows, err := q.QueryContext(ctx, `SELECT tenant_id, domain FROM domains WHERE tenant_id IN (`+db.InList(len(ts))+`) ORDER BY is_initial DESC, domain`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, d string
		if err := rows.Scan(&id, &d); err != nil {
			return err
		}
		if t := byID[id]; t != nil {
			t.Domains = append(t.Domains, d)
		}
	}
	return rows.Err()
}

// Members returns all the direct members of a group of the tenant, ordered
// by id.
func (x *Directory) Members(ctx context.Context, tenantID, groupID string) ([]*Recipient, error) {
	var out []*Recipient
	after := ""
	for {
		ms, more, err := x.memberRows(ctx, x.d.Read(), tenantID, groupID, after, MaxPageSize)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
		if !more {
			return out, nil
		}
		after = ms[len(ms)-1].ID
	}
}

// MembersPage returns one page of the direct members of a group of the
// tenant, ordered by id (the key of the membership index), and the cursor
// of the next page ("" after the last).
func (x *Directory) MembersPage(ctx context.Context, tenantID, groupID string, pg Page) ([]*Recipient, string, error) {
	n, err := pg.size()
	if err != nil {
		return nil, "", err
	}
	list := "members:" + groupID
	after, err := x.decodeCursor(pg.Cursor, list, tenantID)
	if err != nil {
		return nil, "", err
	}
	ms, more, err := x.memberRows(ctx, x.d.Read(), tenantID, groupID, after, n)
	if err != nil || !more {
		return ms, "", err
	}
	next, err := x.encodeCursor(list, tenantID, ms[len(ms)-1].ID)
	return ms, next, err
}

// memberRows reads up to n direct members of a group with ids after after
// (a range of the group_members primary key), with their proxies, and
// whether more follow.
func (x *Directory) memberRows(ctx context.Context, q db.Querier, tenantID, groupID, after string, n int) ([]*Recipient, bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+recipientCols+` FROM recipients WHERE tenant_id = ? AND id IN
		(SELECT member_id FROM group_members WHERE group_id = ? AND tenant_id = ? AND member_id > ? ORDER BY member_id LIMIT ?)
		ORDER BY id`, tenantID, groupID, tenantID, after, n+1)
	if err != nil {
		return nil, false, err
	}
	return pageRows(ctx, q, rows, n)
}

// pageRows reads a page query's rows (asked for n+1 to learn whether more
// follow): at most n recipients with their proxies, and whether more
// follow.
func pageRows(ctx context.Context, q db.Querier, rows *sql.Rows, n int) ([]*Recipient, bool, error) {
	out, err := scanRecipients(rows)
	if err != nil {
		return nil, false, err
	}
	more := len(out) > n
	if more {
		out = out[:n]
	}
	return out, more, loadProxiesOf(ctx, q, out)
}
