package migration

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// MaxCSVRows is the most users one batch CSV may hold (Exchange's limit).
const MaxCSVRows = 2000

// MaxCSVBytes bounds the size of a batch CSV.
const MaxCSVBytes = 1 << 20

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
}

// csvColumns are the known columns, by lower-cased name.
var csvColumns = map[string]string{
	"emailaddress":       "EmailAddress",
	"sourceemailaddress": "SourceEmailAddress",
	"mailboxtype":        "MailboxType",
}

func invalidCSV(line int, format string, args ...any) *errs.Error {
	msg := fmt.Sprintf(format, args...)
	if line > 0 {
		msg = fmt.Sprintf("line %d: %s", line, msg)
	}
	return errs.Invalidf("InvalidCsv", "%s", msg).
		WithHint("the CSV needs a header line with EmailAddress (optional: SourceEmailAddress, MailboxType) and one user per line")
}

// ParseCSV parses a batch CSV: a header with an EmailAddress column and
// optionally SourceEmailAddress and MailboxType; one user per line. Every
// problem is an InvalidCsv error naming the line: a missing EmailAddress
// column, unknown columns, bad or duplicate addresses, bad MailboxType values,
// too many rows.
func ParseCSV(data []byte) ([]CSVRow, error) {
	if len(data) > MaxCSVBytes {
		return nil, invalidCSV(0, "the file is larger than %d bytes", MaxCSVBytes)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err == io.EOF {
		return nil, invalidCSV(0, "the file is empty")
	}
	if err != nil {
		return nil, csvErr(err)
	}
	idx := map[string]int{}
	for i, h := range header {
		name, ok := csvColumns[strings.ToLower(strings.TrimSpace(h))]
		if !ok {
			return nil, invalidCSV(1, "unknown column %q", h)
		}
		if _, dup := idx[name]; dup {
			return nil, invalidCSV(1, "column %s appears twice", name)
		}
		idx[name] = i
	}
	if _, ok := idx["EmailAddress"]; !ok {
		return nil, invalidCSV(1, "the EmailAddress column is missing")
	}
	field := func(rec []string, name string) string {
		i, ok := idx[name]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	var rows []CSVRow
	seen := map[string]int{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvErr(err)
		}
		line, _ := r.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) > len(header) {
			return nil, invalidCSV(line, "%d fields, but the header has %d", len(rec), len(header))
		}
		row := CSVRow{Line: line, MailboxType: MailboxTypePrimaryAndArchive}
		addr := field(rec, "EmailAddress")
		if addr == "" {
			return nil, invalidCSV(line, "EmailAddress is empty")
		}
		if row.EmailAddress, err = directory.ParseSMTP("EmailAddress", addr); err != nil {
			return nil, invalidCSV(line, "EmailAddress %q is not a valid SMTP address", addr)
		}
		if src := field(rec, "SourceEmailAddress"); src != "" {
			if row.SourceEmailAddress, err = directory.ParseSMTP("SourceEmailAddress", src); err != nil {
				return nil, invalidCSV(line, "SourceEmailAddress %q is not a valid SMTP address", src)
			}
		}
		if mt := field(rec, "MailboxType"); mt != "" {
			found := false
			for _, v := range []string{MailboxTypePrimaryAndArchive, MailboxTypePrimaryOnly, MailboxTypeArchiveOnly} {
				if strings.EqualFold(mt, v) {
					row.MailboxType, found = v, true
				}
			}
			if !found {
				return nil, invalidCSV(line, "MailboxType %q is not PrimaryAndArchive, PrimaryOnly or ArchiveOnly", mt)
			}
		}
		key := strings.ToLower(row.EmailAddress)
		if prev, dup := seen[key]; dup {
			return nil, invalidCSV(line, "%s is listed twice (also on line %d)", row.EmailAddress, prev)
		}
		seen[key] = line
		rows = append(rows, row)
		if len(rows) > MaxCSVRows {
			return nil, invalidCSV(line, "more than %d users; split the batch", MaxCSVRows)
		}
	}
	if len(rows) == 0 {
		return nil, invalidCSV(0, "the file lists no users")
	}
	return rows, nil
}

func csvErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return invalidCSV(pe.Line, "%v", pe.Err)
	}
	return invalidCSV(0, "%v", err)
}
