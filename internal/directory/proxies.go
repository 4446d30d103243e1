package directory

import (
	"context"
	"database/sql"
	"sort"
	"strings"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// Proxy is one entry of a recipient's EmailAddresses.
type Proxy struct {
	Prefix  string // "smtp" or "x500"
	Address string
	Primary bool
}

// String renders the proxy as Exchange prints it: "SMTP:" for the primary
// address, "smtp:" for secondaries, "X500:" for X500 addresses.
func (p Proxy) String() string {
	switch {
	case p.Prefix == "x500":
		return "X500:" + p.Address
	case p.Primary:
		return "SMTP:" + p.Address
	default:
		return "smtp:" + p.Address
	}
}

// key returns the uniqueness key of the proxy.
func (p Proxy) key() string { return strings.ToLower(p.Address) }

// ParseProxy parses an EmailAddresses entry: "SMTP:a@b" (primary),
// "smtp:a@b" or a bare "a@b" (secondary), "X500:/o=..." (any case prefix).
func ParseProxy(s string) (Proxy, error) {
	s = strings.TrimSpace(s)
	prefix, rest, found := strings.Cut(s, ":")
	if !found || strings.Contains(prefix, "@") {
		// A bare address (the local part may not contain ':' then).
		a, err := ParseSMTP("address", s)
		return Proxy{Prefix: "smtp", Address: a}, err
	}
	switch prefix {
	case "SMTP", "smtp":
		a, err := ParseSMTP("address", rest)
		return Proxy{Prefix: "smtp", Address: a, Primary: prefix == "SMTP"}, err
	}
	if strings.EqualFold(prefix, "x500") {
		if !strings.HasPrefix(rest, "/") || len(rest) < 4 || len(rest) > 1024 || strings.ContainsAny(rest, "\r\n\x00") {
			return Proxy{}, errs.Invalidf("InvalidProxyAddress", "%q is not a valid X500 address", s).
				WithHint("X500 addresses look like X500:/o=Org/ou=Exchange Administrative Group/cn=Recipients/cn=user")
		}
		return Proxy{Prefix: "x500", Address: rest}, nil
	}
	return Proxy{}, errs.Invalidf("InvalidProxyAddress", "%q has the unknown address prefix %q", s, prefix).
		WithHint("use SMTP:, smtp: or X500:")
}

// sortProxies orders proxies: primary SMTP first, then secondary SMTP, then
// X500, each group by address.
func sortProxies(ps []Proxy) {
	rank := func(p Proxy) int {
		switch {
		case p.Prefix == "smtp" && p.Primary:
			return 0
		case p.Prefix == "smtp":
			return 1
		}
		return 2
	}
	sort.SliceStable(ps, func(i, j int) bool {
		if ri, rj := rank(ps[i]), rank(ps[j]); ri != rj {
			return ri < rj
		}
		return ps[i].key() < ps[j].key()
	})
}

// checkProxiesAvailable verifies every SMTP proxy is in an accepted domain of
// the tenant and not used by another recipient, and every X500 proxy is not
// used by another recipient of the tenant.
func (x *Directory) checkProxiesAvailable(ctx context.Context, tx *db.Tx, tenantID, recipientID string, ps []Proxy) error {
	for _, p := range ps {
		if p.Prefix == "smtp" {
			owner, err := x.TenantOfDomain(ctx, tx, domainOf(p.Address))
			if err != nil {
				return err
			}
			if owner != tenantID {
				if err := x.pendingError(ctx, tx, tenantID, domainOf(p.Address), "the address "+p.Address); err != nil {
					return err
				}
				return errs.Invalidf("NotAcceptedDomain", "the domain of %s is not an accepted domain of this tenant", p.Address).
					WithHint("add the domain with 'tenantferry domain add' or use an address in an accepted domain").WithObject(p.Address)
			}
		}
		var holder string
		var err error
		if p.Prefix == "smtp" {
			err = tx.QueryRowContext(ctx, `SELECT recipient_id FROM proxies WHERE prefix = 'smtp' AND addr_key = ?`, p.key()).Scan(&holder)
		} else {
			err = tx.QueryRowContext(ctx, `SELECT recipient_id FROM proxies WHERE tenant_id = ? AND prefix = ? AND addr_key = ?`, tenantID, p.Prefix, p.key()).Scan(&holder)
		}
		if err == nil && holder != recipientID {
			return errs.Conflictf("ProxyAddressExists", "the address %s is already used by another recipient", p.String()).
				WithHint("choose another address or remove it from the other recipient first").WithObject(p.Address)
		}
		if err != nil && !db.IsNoRows(err) {
			return err
		}
	}
	return nil
}

// recipientWithProxies runs query, which selects recipientCols of at most
// one recipient, and returns that recipient with its proxies, in one
// statement: the query becomes a CTE joined with proxies. No recipient gives
// sql.ErrNoRows.
func recipientWithProxies(ctx context.Context, q db.Querier, query string, args ...any) (*Recipient, error) {
	rows, err := q.QueryContext(ctx, `WITH r AS (`+query+`) SELECT `+recipientColsR+`, p.prefix, p.address, p.is_primary
		FROM r LEFT JOIN proxies p ON p.recipient_id = r.id ORDER BY p.position, p.id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var r *Recipient
	for rows.Next() {
		var prefix, address sql.NullString
		var primary sql.NullBool
		row, err := scanRecipient(extraScan{rows, []any{&prefix, &address, &primary}})
		if err != nil {
			return nil, err
		}
		if r == nil {
			r = row
		}
		if prefix.Valid {
			r.Proxies = append(r.Proxies, Proxy{Prefix: prefix.String, Address: address.String, Primary: primary.Bool})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, sql.ErrNoRows
	}
	sortProxies(r.Proxies)
	return r, nil
}

// extraScan scans a row into the destinations given plus extra ones after
// them.
type extraScan struct {
	rows  *sql.Rows
	extra []any
}

// Scan scans the row into dest followed by the extra destinations.
func (e extraScan) Scan(dest ...any) error {
	return e.rows.Scan(append(dest, e.extra...)...)
}

// recipientColsR is recipientCols qualified by the alias r.
var recipientColsR = recipientColsOf("r")

// recipientColsOf returns recipientCols qualified by a table alias.
func recipientColsOf(alias string) string {
	cols := strings.Split(recipientCols, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// replaceProxies rewrites a recipient's proxy rows.
func replaceProxies(ctx context.Context, tx *db.Tx, tenantID, recipientID string, ps []Proxy) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM proxies WHERE recipient_id = ?`, recipientID); err != nil {
		return err
	}
	sortProxies(ps)
	for i, p := range ps {
		if _, err := tx.ExecContext(ctx, `INSERT INTO proxies (recipient_id, tenant_id, prefix, address, addr_key, is_primary, position) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			recipientID, tenantID, p.Prefix, p.Address, p.key(), p.Primary, i); err != nil {
			if db.IsUnique(err) {
				return errs.Conflictf("ProxyAddressExists", "the address %s is already used by another recipient", p.String()).WithObject(p.Address)
			}
			return err
		}
	}
	return nil
}

// mergeProxies applies additions and removals to a proxy list. Adding an
// "SMTP:" proxy makes it primary (the old primary becomes secondary);
// removing the primary address is refused.
func mergeProxies(cur []Proxy, add, remove []string) ([]Proxy, error) {
	out := append([]Proxy(nil), cur...)
	find := func(p Proxy) int {
		for i, c := range out {
			if c.Prefix == p.Prefix && c.key() == p.key() {
				return i
			}
		}
		return -1
	}
	for _, s := range remove {
		p, err := ParseProxy(s)
		if err != nil {
			return nil, err
		}
		i := find(p)
		if i < 0 {
			return nil, errs.NotFoundf("ProxyAddressNotFound", "the recipient has no address %s", p.String()).WithObject(p.Address)
		}
		if out[i].Primary {
			return nil, errs.Conflictf("CannotRemovePrimaryAddress", "%s is the primary SMTP address", p.Address).
				WithHint("make another address primary first (--add-address SMTP:new@domain)")
		}
		out = append(out[:i], out[i+1:]...)
	}
	for _, s := range add {
		p, err := ParseProxy(s)
		if err != nil {
			return nil, err
		}
		i := find(p)
		if p.Primary {
			for j := range out {
				out[j].Primary = false
			}
		}
		if i >= 0 {
			out[i].Primary = out[i].Primary || p.Primary
			continue
		}
		out = append(out, p)
	}
	return out, nil
}
