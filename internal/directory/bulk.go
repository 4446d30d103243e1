package directory

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/identity"
	"github.com/tenantferry/tenantferry/internal/units"
)

// Bulk creation of mailboxes (mailbox create --csv): every row is
// validated first — its fields, duplicates within the file, names and
// addresses already taken, domains not accepted — and every bad row is
// reported at once; nothing is written unless every row is good. Then the
// passwords are hashed (in the process's hash slots, in parallel) and the
// rows are written BulkChunk at a time, one transaction and one
// multi-row INSERT per table per chunk.

// Limits of a bulk creation.
const (
	// MaxBulkRows is the most rows one bulk creation takes.
	MaxBulkRows = 50000
	// BulkChunk is the number of rows written per transaction.
	BulkChunk = 500
)

// BulkColumns are the columns of a mailbox CSV file, in the documented
// order. Address is required; the others may be left out or empty.
var BulkColumns = []string{"Address", "DisplayName", "Password", "PasswordHash", "Quota"}

// MailboxRow is one mailbox of a bulk creation, as written in the file.
type MailboxRow struct {
	Row          int    // its row number in the file (the header is row 1)
	Address      string // primary SMTP address; its local part is the alias and the name
	DisplayName  string // default: the alias
	Password     string // optional; hashed here
	PasswordHash string // optional: an argon2id PHC string (identity.CheckPasswordHash)
	Quota        string // optional: a size (2GB, 500MB, bytes, unlimited)
}

// RowError is what is wrong with one field of one row.
type RowError struct {
	Row     int
	Column  string
	Code    string
	Message string
	Hint    string
}

// RowErrors are all the bad rows of a refused bulk creation, in row order.
// A refusal is an ErrInvalidRows whose message lists them; errors.As finds
// the RowErrors in its chain.
type RowErrors []RowError

// Error lists the row errors, one a line.
func (re RowErrors) Error() string {
	var b strings.Builder
	for i, e := range re {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "row %d, %s: %s: %s", e.Row, e.Column, e.Code, e.Message)
		if e.Hint != "" {
			fmt.Fprintf(&b, " (%s)", e.Hint)
		}
	}
	return b.String()
}

// BulkResult is the outcome of a bulk creation.
type BulkResult struct {
	Mailboxes       []*Recipient // in row order
	WithoutPassword int          // rows that gave no password: those mailboxes cannot log in until one is set
}

// ReadMailboxCSV reads a mailbox CSV file: a header row naming columns of
// BulkColumns (any order, any case), then one mailbox a row. A file that
// is not such a CSV is ErrInvalidCSV naming the row; more than MaxBulkRows
// rows is ErrTooManyRows.
func ReadMailboxCSV(r io.Reader) ([]MailboxRow, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, ErrInvalidCSV.Newf("the file is empty").WithHint("start it with a header row such as %s", strings.Join(BulkColumns, ","))
	}
	if err != nil {
		return nil, csvError(err)
	}
	cols := make([]int, len(head)) // index into BulkColumns per field
	seen := map[int]bool{}
	for i, h := range head {
		cols[i] = -1
		for j, c := range BulkColumns {
			if strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")), c) {
				cols[i] = j
			}
		}
		if cols[i] < 0 || seen[cols[i]] {
			return nil, ErrInvalidCSV.Newf("row 1: column %q is unknown or repeated", h).WithObject(h).
				WithHint("name each column once, from %s", strings.Join(BulkColumns, ", "))
		}
		seen[cols[i]] = true
	}
	if !seen[0] {
		return nil, ErrInvalidCSV.Newf("row 1: the header has no Address column").WithHint("the columns are %s; Address is required", strings.Join(BulkColumns, ", "))
	}
	var rows []MailboxRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, csvError(err)
		}
		if len(rows) == MaxBulkRows {
			return nil, ErrTooManyRows.Newf("the file has more than %d rows", MaxBulkRows).WithHint("split it into files of %d rows or fewer", MaxBulkRows)
		}
		line, _ := cr.FieldPos(0)
		row := MailboxRow{Row: line}
		fields := []*string{&row.Address, &row.DisplayName, &row.Password, &row.PasswordHash, &row.Quota}
		for i, v := range rec {
			*fields[cols[i]] = v
		}
		rows = append(rows, row)
	}
}

// csvError reports a CSV syntax error with its row.
func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return ErrInvalidCSV.Newf("row %d: %v", pe.StartLine, pe.Err).WithHint("give every row as many fields as the header, and quote fields holding commas or quotes")
	}
	return ErrInvalidCSV.Newf("the file cannot be read: %v", err)
}

// bulkRow is a validated row on its way to the database.
type bulkRow struct {
	MailboxRow
	r *Recipient
}

// CreateMailboxes creates the rows' UserMailboxes in the tenant, or none:
// a refusal (ErrInvalidRows) lists every bad row.
func (x *Directory) CreateMailboxes(ctx context.Context, tenantID string, rows []MailboxRow) (*BulkResult, error) {
	if len(rows) == 0 {
		return nil, ErrInvalidCSV.Newf("the file has no mailbox rows").WithHint("add one row per mailbox below the header")
	}
	if len(rows) > MaxBulkRows {
		return nil, ErrTooManyRows.Newf("%d rows are more than %d", len(rows), MaxBulkRows).WithHint("split the file into files of %d rows or fewer", MaxBulkRows)
	}
	t, err := x.tenantByID(ctx, x.d.Read(), tenantID)
	if err != nil {
		return nil, err
	}
	brs, bad := checkRows(rows, t)
	more, err := x.checkTaken(ctx, tenantID, brs)
	if err != nil {
		return nil, err
	}
	if bad = append(bad, more...); len(bad) > 0 {
		sort.SliceStable(bad, func(i, j int) bool { return bad[i].Row < bad[j].Row })
		return nil, ErrInvalidRows.Newf("%d of %d rows are invalid, so no mailbox was created:\n%s", len(bad), len(rows), bad.Error()).
			WithHint("fix the rows listed and run the command again").WithCause(bad)
	}
	res := &BulkResult{}
	if err := hashRows(ctx, brs); err != nil {
		return nil, err
	}
	for _, b := range brs {
		if !b.r.HasPassword {
			res.WithoutPassword++
		}
		res.Mailboxes = append(res.Mailboxes, b.r)
	}
	for lo := 0; lo < len(brs); lo += BulkChunk {
		chunk := brs[lo:min(lo+BulkChunk, len(brs))]
		if err := x.d.Write(ctx, func(tx *db.Tx) error { return insertRows(ctx, tx, tenantID, chunk) }); err != nil {
			if lo > 0 {
				return nil, errs.Internalf(err, "rows %d to %d could not be written after %d mailboxes were created", chunk[0].Row, chunk[len(chunk)-1].Row, lo)
			}
			return nil, err
		}
	}
	return res, nil
}

// checkRows validates each row on its own and against the other rows of
// the file, and builds the recipients of the good ones.
func checkRows(rows []MailboxRow, t *Tenant) ([]*bulkRow, RowErrors) {
	var bad RowErrors
	fail := func(row int, col string, err error) {
		e := errs.As(err)
		if e == nil {
			e = errs.Internalf(err, "row %d", row)
		}
		hint := e.Hint
		if hint == "" {
			hint = "correct the " + col + " of this row"
		}
		bad = append(bad, RowError{Row: row, Column: col, Code: e.Code, Message: e.Message, Hint: hint})
	}
	firstRow := map[string]int{} // alias or address key → row
	var out []*bulkRow
	for _, row := range rows {
		n := len(bad)
		addr, err := ParseSMTP("Address", strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(row.Address), "SMTP:"), "smtp:"))
		if err != nil {
			fail(row.Row, "Address", err)
		} else if err := CheckAlias(localOf(addr)); err != nil {
			fail(row.Row, "Address", err)
		} else {
			for _, k := range []string{"alias:" + strings.ToLower(localOf(addr)), "addr:" + strings.ToLower(addr)} {
				if prev, dup := firstRow[k]; dup {
					fail(row.Row, "Address", ErrDuplicateRow.Newf("%s repeats the alias or address of row %d", addr, prev).WithObject(addr).
						WithHint("give every mailbox its own address and local part"))
					break
				}
				firstRow[k] = row.Row
			}
		}
		if err := CheckDisplayName("DisplayName", row.DisplayName); err != nil {
			fail(row.Row, "DisplayName", err)
		}
		switch {
		case row.Password != "" && row.PasswordHash != "":
			fail(row.Row, "PasswordHash", ErrAmbiguousPassword.Newf("the row gives both a Password and a PasswordHash").
				WithHint("leave one of them empty"))
		case len(row.Password) > 256:
			fail(row.Row, "Password", errs.Invalidf("InvalidPassword", "the password is longer than 256 characters"))
		case row.PasswordHash != "":
			if err := identity.CheckPasswordHash(row.PasswordHash); err != nil {
				fail(row.Row, "PasswordHash", err)
			}
		}
		var quota int64
		if q := strings.TrimSpace(row.Quota); q != "" {
			if quota, err = units.ParseBytes(q); err != nil {
				fail(row.Row, "Quota", ErrInvalidQuota.Newf("%v", err).WithObject(q).WithHint("write a size such as 2GB or 500MB, or unlimited"))
			}
		}
		if len(bad) > n {
			continue
		}
		alias := localOf(addr)
		r := &Recipient{ID: newID(), TenantID: t.ID, Type: UserMailbox, Name: alias, Alias: alias, DisplayName: strings.TrimSpace(row.DisplayName),
			PrimarySmtpAddress: addr, UserPrincipalName: addr, ExchangeGuid: newID(), LegacyExchangeDN: legacyDN(t.Name, alias), Quota: quota,
			Proxies: []Proxy{{Prefix: "smtp", Address: addr, Primary: true}}, passwordHash: row.PasswordHash}
		if r.DisplayName == "" {
			r.DisplayName = alias
		}
		r.HasPassword = row.PasswordHash != "" || row.Password != ""
		out = append(out, &bulkRow{MailboxRow: row, r: r})
	}
	return out, bad
}

// checkTaken reports the rows whose domain the tenant has not accepted, or
// whose alias or address another recipient has: a few queries per
// BulkChunk rows, never one per row.
func (x *Directory) checkTaken(ctx context.Context, tenantID string, brs []*bulkRow) (RowErrors, error) {
	var bad RowErrors
	q := x.d.Read()
	domainErr := map[string]error{}
	for _, b := range brs {
		d := domainOf(b.r.PrimarySmtpAddress)
		if _, done := domainErr[d]; !done {
			domainErr[d] = x.CheckDeliveryDomain(ctx, tenantID, d)
		}
		if e := errs.As(domainErr[d]); e != nil {
			bad = append(bad, RowError{Row: b.Row, Column: "Address", Code: e.Code, Message: e.Message, Hint: e.Hint})
		} else if domainErr[d] != nil {
			return nil, domainErr[d]
		}
	}
	for lo := 0; lo < len(brs); lo += BulkChunk {
		chunk := brs[lo:min(lo+BulkChunk, len(brs))]
		keys := make([]any, len(chunk))
		addrs := make([]any, len(chunk))
		for i, b := range chunk {
			keys[i], addrs[i] = strings.ToLower(b.r.Alias), strings.ToLower(b.r.PrimarySmtpAddress)
		}
		in := db.InList(len(chunk))
		names, err := queryStrings(ctx, q, `SELECT alias_key FROM recipients WHERE tenant_id = ? AND alias_key IN (`+in+`)
			UNION SELECT name_key FROM recipients WHERE tenant_id = ? AND name_key IN (`+in+`)`,
			append(append(append([]any{tenantID}, keys...), tenantID), keys...)...)
		if err != nil {
			return nil, err
		}
		used, err := queryStrings(ctx, q, `SELECT addr_key FROM proxies WHERE prefix = 'smtp' AND addr_key IN (`+in+`)`, addrs...)
		if err != nil {
			return nil, err
		}
		for _, b := range chunk {
			switch {
			case used[strings.ToLower(b.r.PrimarySmtpAddress)]:
				bad = append(bad, RowError{Row: b.Row, Column: "Address", Code: "ProxyAddressExists",
					Message: fmt.Sprintf("the address %s is already used by another recipient", b.r.PrimarySmtpAddress),
					Hint:    "choose another address or remove it from the other recipient first"})
			case names[strings.ToLower(b.r.Alias)]:
				bad = append(bad, RowError{Row: b.Row, Column: "Address", Code: "RecipientExists",
					Message: fmt.Sprintf("a recipient with name or alias %q already exists", b.r.Alias),
					Hint:    "choose another local part for the address"})
			}
		}
	}
	return bad, nil
}

// queryStrings returns the set of the first column of a query's rows.
func queryStrings(ctx context.Context, q db.Querier, query string, args ...any) (map[string]bool, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	ss, err := scanStrings(rows)
	out := make(map[string]bool, len(ss))
	for _, s := range ss {
		out[s] = true
	}
	return out, err
}

// hashRows hashes the rows' passwords, as many at once as the process
// has hash slots; it stops when ctx ends (a client that gave up).
func hashRows(ctx context.Context, brs []*bulkRow) error {
	work := make(chan *bulkRow)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range identity.PasswordHashLimit() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if ctx.Err() != nil {
					continue
				}
				h, err := identity.HashPassword(b.Password)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				mu.Unlock()
				b.r.passwordHash = h
			}
		}()
	}
	for _, b := range brs {
		if b.Password != "" {
			work <- b
		}
	}
	close(work)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// insertRows writes a chunk of validated rows with one INSERT per table.
func insertRows(ctx context.Context, tx *db.Tx, tenantID string, chunk []*bulkRow) error {
	now := db.Now()
	var rv, pv []string
	var ra, pa []any
	for _, b := range chunk {
		r := b.r
		r.CreatedAt, r.UpdatedAt = db.Time(now), db.Time(now)
		rv = append(rv, "(?, ?, ?, ?, ?, ?, ?, ?, '', '', ?, ?, ?, NULL, ?, NULL, ?, ?, ?, ?, ?)")
		ra = append(ra, r.ID, tenantID, string(r.Type), r.Name, strings.ToLower(r.Name), r.Alias, strings.ToLower(r.Alias), r.DisplayName,
			r.PrimarySmtpAddress, r.UserPrincipalName, r.ExchangeGuid, r.LegacyExchangeDN, nullStr(r.passwordHash), now, now, false, r.Quota)
		pv = append(pv, "(?, ?, 'smtp', ?, ?, ?, 0)")
		pa = append(pa, r.ID, tenantID, r.PrimarySmtpAddress, strings.ToLower(r.PrimarySmtpAddress), true)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO recipients (id, tenant_id, type, name, name_key, alias, alias_key, display_name, first_name, last_name,
		primary_smtp, upn, exchange_guid, archive_guid, legacy_dn, external_email, password_hash, created_at, updated_at, shared, quota_bytes)
		VALUES `+strings.Join(rv, ", "), ra...); err != nil {
		if db.IsUnique(err) {
			return errs.Conflictf("RecipientExists", "a mailbox of rows %d to %d was created by someone else meanwhile", chunk[0].Row, chunk[len(chunk)-1].Row).
				WithHint("list the mailboxes, remove the rows that exist from the file and run it again")
		}
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO proxies (recipient_id, tenant_id, prefix, address, addr_key, is_primary, position) VALUES `+strings.Join(pv, ", "), pa...); err != nil {
		if db.IsUnique(err) {
			return errs.Conflictf("ProxyAddressExists", "an address of rows %d to %d was taken by someone else meanwhile", chunk[0].Row, chunk[len(chunk)-1].Row).
				WithHint("list the mailboxes, remove the rows that exist from the file and run it again")
		}
		return err
	}
	return nil
}
