package migration

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// MaxCSVRows is the most users one batch CSV may hold. Exchange caps a
// batch at 2,000; tenantferry takes 10,000, which validates, inserts and
// starts in seconds (TestLargeBatch; docs/benchmarks.md), while keeping a
// batch's report and views a size an admin can read.
const MaxCSVRows = 10000

// MaxCSVBytes bounds the size of a batch CSV (10,000 rows of long
// addresses and IMAP credentials fit).
const MaxCSVBytes = 4 << 20

// Mailbox types of the CSV's optional MailboxType column.
const (
	MailboxTypePrimaryAndArchive = "PrimaryAndArchive"
	MailboxTypePrimaryOnly       = "PrimaryOnly"
	MailboxTypeArchiveOnly       = "ArchiveOnly"
)

// CSVRow is one user of a batch or prepare CSV.
type CSVRow struct {
	Line               int    // 1-based line number in the file
	EmailAddress       string // target address (required)
	SourceEmailAddress string // optional
	MailboxType        string // optional; PrimaryAndArchive by default
	UserName           string // IMAP batches: the source login
	Password           string // IMAP batches: the source password (never logged)
}

// csvColumns are the known columns of a batch for a tenantferry source,
// imapColumns those of a batch for an IMAP endpoint (Exchange's IMAP CSV),
// by lower-cased name.
var (
	csvColumns = map[string]string{
		"emailaddress":       "EmailAddress",
		"sourceemailaddress": "SourceEmailAddress",
		"mailboxtype":        "MailboxType",
	}
	imapColumns = map[string]string{
		"emailaddress": "EmailAddress",
		"username":     "UserName",
		"password":     "Password",
		// An OAuth endpoint's per-user secret is its refresh token.
		"refreshtoken": "Password",
	}
)

const (
	csvHint     = "the CSV needs a header line with EmailAddress (optional: SourceEmailAddress, MailboxType) and one user per line"
	imapCSVHint = "the CSV of an IMAP batch needs the header EmailAddress,UserName,Password and one user per line (EmailAddress: the user's mailbox here; UserName and Password: the login at the IMAP server)"
)

func invalidCSVHint(hint string, line int, format string, args ...any) *errs.Error {
	msg := fmt.Sprintf(format, args...)
	if line > 0 {
		msg = fmt.Sprintf("line %d: %s", line, msg)
	}
	return errs.Invalidf("InvalidCsv", "%s", msg).WithHint("%s", hint)
}

// ParseCSV parses a batch CSV: a header with an EmailAddress column and
// optionally SourceEmailAddress and MailboxType; one user per line. Every
// problem is an InvalidCsv error naming the line: a missing EmailAddress
// column, unknown columns, bad or duplicate addresses, bad MailboxType values,
// too many rows.
func ParseCSV(data []byte) ([]CSVRow, error) {
	return parseCSV(data, false)
}

// ParseIMAPCSV parses the CSV of a batch for an IMAP endpoint: the header
// EmailAddress,UserName,Password (Exchange's IMAP CSV; any order, any
// case) and one user per line, every field required. Its errors are
// InvalidCsv naming the line, never a password.
func ParseIMAPCSV(data []byte) ([]CSVRow, error) {
	return parseCSV(data, true)
}

// ParseIMAPCSVNoSecret parses the CSV of a batch for an IMAP endpoint
// whose users sign in without a secret of their own (OAuth
// client-credentials: a service account): EmailAddress,UserName, with an
// optional (ignored when empty) Password or RefreshToken column.
func ParseIMAPCSVNoSecret(data []byte) ([]CSVRow, error) {
	return parseCSVWith(data, true, false)
}

func parseCSV(data []byte, imap bool) ([]CSVRow, error) {
	return parseCSVWith(data, imap, imap)
}

// CSVProblem is a CSV row refused by the batch rules: its line, its
// EmailAddress as written, and the InvalidCsv error naming the line.
type CSVProblem struct {
	Line         int
	EmailAddress string
	Err          *errs.Error
}

// parseCSVWith parses a batch CSV; secret requires an IMAP user's
// Password (or RefreshToken). It fails on the first bad row.
func parseCSVWith(data []byte, imap, secret bool) ([]CSVRow, error) {
	rows, bad, err := parseCSVRows(data, imap, secret)
	if len(bad) > 0 {
		return nil, bad[0].Err
	}
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, invalidCSVHint(csvHintFor(imap), 0, "the file lists no users")
	}
	return rows, nil
}

func csvHintFor(imap bool) string {
	if imap {
		return imapCSVHint
	}
	return csvHint
}

// parseCSVRows parses a batch CSV row by row: the good rows, the refused
// ones (in line order), and an error for the file as a whole (its size,
// header, CSV syntax or row count), after which no row is read.
func parseCSVRows(data []byte, imap, secret bool) ([]CSVRow, []CSVProblem, error) {
	cols, hint := csvColumns, csvHintFor(imap)
	invalidCSV := func(line int, format string, args ...any) *errs.Error {
		return invalidCSVHint(hint, line, format, args...)
	}
	if len(data) > MaxCSVBytes {
		return nil, nil, invalidCSV(0, "the file is larger than %d bytes", MaxCSVBytes)
	}
	if imap {
		cols = imapColumns
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err == io.EOF {
		return nil, nil, invalidCSV(0, "the file is empty")
	}
	if err != nil {
		return nil, nil, csvErr(err, hint)
	}
	idx, herr := csvHeader(header, cols, imap, secret, invalidCSV)
	if herr != nil {
		return nil, nil, herr
	}
	var rows []CSVRow
	var bad []CSVProblem
	seen := map[string]int{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rows, bad, csvErr(err, hint)
		}
		line, _ := r.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		row, perr := csvRow(rec, len(header), line, idx, imap, secret, invalidCSV)
		if perr == nil {
			key := strings.ToLower(row.EmailAddress)
			if prev, dup := seen[key]; dup {
				perr = invalidCSV(line, "%s is listed twice (also on line %d)", row.EmailAddress, prev)
			} else {
				seen[key] = line
			}
		}
		if perr != nil {
			addr := ""
			if i, ok := idx["EmailAddress"]; ok && i < len(rec) {
				addr = strings.TrimSpace(rec[i])
			}
			bad = append(bad, CSVProblem{Line: line, EmailAddress: addr, Err: perr})
			continue
		}
		rows = append(rows, row)
		if len(rows) > MaxCSVRows {
			return rows, bad, invalidCSV(line, "more than %d users; split the batch", MaxCSVRows)
		}
	}
	return rows, bad, nil
}

// csvHeader maps the header's columns to their index.
func csvHeader(header []string, cols map[string]string, imap, secret bool, invalidCSV func(int, string, ...any) *errs.Error) (map[string]int, *errs.Error) {
	idx := map[string]int{}
	for i, h := range header {
		key := strings.ToLower(strings.TrimSpace(h))
		name, ok := cols[key]
		if !ok {
			switch {
			case !imap && imapColumns[key] != "":
				return nil, invalidCSV(1, "column %s belongs to the CSV of an IMAP batch; this batch's endpoint is a tenantferry source", imapColumns[key])
			case imap && csvColumns[key] != "":
				return nil, invalidCSV(1, "column %s is not used by an IMAP batch", csvColumns[key])
			}
			return nil, invalidCSV(1, "unknown column %q", h)
		}
		if _, dup := idx[name]; dup {
			return nil, invalidCSV(1, "column %s appears twice", name)
		}
		idx[name] = i
	}
	required := []string{"EmailAddress"}
	if imap {
		required = append(required, "UserName")
	}
	if secret {
		required = append(required, "Password")
	}
	for _, c := range required {
		if _, ok := idx[c]; !ok {
			return nil, invalidCSV(1, "the %s column is missing", c)
		}
	}
	return idx, nil
}

// csvRow checks one record of a batch CSV (all but duplicates).
func csvRow(rec []string, width, line int, idx map[string]int, imap, secret bool, invalidCSV func(int, string, ...any) *errs.Error) (CSVRow, *errs.Error) {
	field := func(name string) string {
		i, ok := idx[name]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	row := CSVRow{Line: line, MailboxType: MailboxTypePrimaryAndArchive}
	if len(rec) > width {
		return row, invalidCSV(line, "%d fields, but the header has %d", len(rec), width)
	}
	addr := field("EmailAddress")
	if addr == "" {
		return row, invalidCSV(line, "EmailAddress is empty")
	}
	var err error
	if row.EmailAddress, err = directory.ParseSMTP("EmailAddress", addr); err != nil {
		return row, invalidCSV(line, "EmailAddress %q is not a valid SMTP address", addr)
	}
	if imap {
		row.UserName = field("UserName")
		if i := idx["Password"]; i < len(rec) {
			row.Password = rec[i] // as written: spaces may be part of a password
		}
		switch {
		case row.UserName == "":
			return row, invalidCSV(line, "UserName is empty for %s", row.EmailAddress)
		case len(row.UserName) > 320 || !utf8.ValidString(row.UserName) || strings.ContainsAny(row.UserName, "\x00\r\n"):
			return row, invalidCSV(line, "UserName of %s is not a valid login name", row.EmailAddress)
		case row.Password == "" && secret:
			return row, invalidCSV(line, "Password (or RefreshToken) is empty for %s", row.EmailAddress)
		case len(row.Password) > 1024 || !utf8.ValidString(row.Password) || strings.ContainsAny(row.Password, "\x00\r\n"):
			return row, invalidCSV(line, "the Password of %s is not valid text of at most 1024 bytes without line breaks", row.EmailAddress)
		}
	}
	if src := field("SourceEmailAddress"); src != "" {
		if row.SourceEmailAddress, err = directory.ParseSMTP("SourceEmailAddress", src); err != nil {
			return row, invalidCSV(line, "SourceEmailAddress %q is not a valid SMTP address", src)
		}
	}
	if mt := field("MailboxType"); mt != "" {
		found := false
		for _, v := range []string{MailboxTypePrimaryAndArchive, MailboxTypePrimaryOnly, MailboxTypeArchiveOnly} {
			if strings.EqualFold(mt, v) {
				row.MailboxType, found = v, true
			}
		}
		if !found {
			return row, invalidCSV(line, "MailboxType %q is not PrimaryAndArchive, PrimaryOnly or ArchiveOnly", mt)
		}
	}
	return row, nil
}

func csvErr(err error, hint string) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return invalidCSVHint(hint, pe.Line, "%v", pe.Err)
	}
	return invalidCSVHint(hint, 0, "%v", err)
}
