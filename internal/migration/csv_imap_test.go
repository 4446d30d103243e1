package migration

import (
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// TestParseIMAPCSV checks the CSV of an IMAP batch (Exchange's
// EmailAddress,UserName,Password): the columns in any order and case, a
// password kept as written, every problem an InvalidCsv naming the line
// and never the password, and the columns of one kind of batch refused by
// the other.
func TestParseIMAPCSV(t *testing.T) {
	rows, err := ParseIMAPCSV([]byte("\xef\xbb\xbfusername,EmailAddress,PASSWORD\r\nalice,alice@fabrikam.example,\" p@ss, \"\"word\"\" \"\r\n\r\nbob@legacy.example,bob@fabrikam.example,x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].UserName != "alice" || rows[0].Password != ` p@ss, "word" ` || rows[0].EmailAddress != "alice@fabrikam.example" ||
		rows[1].UserName != "bob@legacy.example" || rows[1].Line != 4 {
		t.Fatalf("rows = %+v", rows)
	}
	const secret = "Tr0ub4dor&3"
	bad := map[string]string{
		"no user column":     "EmailAddress,Password\na@b.example," + secret + "\n",
		"no password column": "EmailAddress,UserName\na@b.example,a\n",
		"native columns":     "EmailAddress,UserName,Password,MailboxType\na@b.example,a," + secret + ",PrimaryOnly\n",
		"source column":      "EmailAddress,UserName,Password,SourceEmailAddress\na@b.example,a," + secret + ",c@d.example\n",
		"empty user":         "EmailAddress,UserName,Password\na@b.example,," + secret + "\n",
		"empty password":     "EmailAddress,UserName,Password\na@b.example,a,\n",
		"short row":          "EmailAddress,UserName,Password\na@b.example,a\n",
		"password newline":   "EmailAddress,UserName,Password\na@b.example,a,\"" + secret + "\nmore\"\n",
		"duplicate":          "EmailAddress,UserName,Password\na@b.example,a," + secret + "\nA@b.example,b," + secret + "\n",
		"bad address":        "EmailAddress,UserName,Password\nnope,a," + secret + "\n",
		"too many fields":    "EmailAddress,UserName,Password\na@b.example,a," + secret + ",x\n",
	}
	for name, in := range bad {
		_, err := ParseIMAPCSV([]byte(in))
		e := errs.As(err)
		if errs.CodeOf(err) != "InvalidCsv" || e.Hint == "" || !strings.Contains(e.Hint, "UserName") {
			t.Errorf("%s: got %v, want InvalidCsv with the IMAP hint", name, err)
			continue
		}
		if strings.Contains(e.Error(), secret) {
			t.Errorf("%s: the error shows the password: %v", name, e)
		}
	}
	_, err = ParseIMAPCSV([]byte("EmailAddress,UserName,Password\na@b.example,a,x\nc@d.example,,y\n"))
	if e := errs.As(err); e == nil || !strings.HasPrefix(e.Message, "line 3: UserName is empty") {
		t.Fatalf("line number: %v", err)
	}
	// The IMAP columns on a batch of a tenantferry source.
	_, err = ParseCSV([]byte("EmailAddress,UserName,Password\na@b.example,a,x\n"))
	if e := errs.As(err); e == nil || e.Code != "InvalidCsv" || !strings.Contains(e.Message, "IMAP") {
		t.Fatalf("IMAP columns in a native CSV: %v", err)
	}
}

// FuzzParseIMAPCSV feeds arbitrary bytes to the IMAP CSV parser: rows or
// an InvalidCsv, every row complete, no error carrying a row's password,
// and the native parser never accepting the IMAP columns.
func FuzzParseIMAPCSV(f *testing.F) {
	f.Add([]byte("EmailAddress,UserName,Password\nalice@fabrikam.example,alice,secret\n"))
	f.Add([]byte("password,username,emailaddress\n\"p,\"\"w\",u,a@b.example\n"))
	f.Add([]byte("EmailAddress,UserName,Password\na@b.example,a,\nb@b.example,b,pw\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := ParseIMAPCSV(data)
		if err != nil {
			if errs.CodeOf(err) != "InvalidCsv" {
				t.Fatalf("error without InvalidCsv code: %v", err)
			}
		} else {
			if len(rows) == 0 {
				t.Fatal("no rows and no error")
			}
			for _, r := range rows {
				if r.EmailAddress == "" || r.UserName == "" || r.Password == "" || r.Line < 2 || strings.ContainsAny(r.Password, "\r\n\x00") {
					t.Fatalf("bad row %+v", r)
				}
			}
			// A valid IMAP CSV is never a valid native one.
			if _, err := ParseCSV(data); err == nil {
				t.Fatal("the native parser accepted an IMAP CSV")
			}
		}
	})
}
