package migration

import (
	"testing"

	"github.com/tenantferry/tenantferry/internal/errs"
)

func TestParseCSV(t *testing.T) {
	rows, err := ParseCSV([]byte("\xef\xbb\xbfEmailAddress,MailboxType\r\nuser01@fabrikam.example,\r\n\r\n user02@fabrikam.example ,primaryonly\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].EmailAddress != "user01@fabrikam.example" || rows[0].MailboxType != MailboxTypePrimaryAndArchive ||
		rows[1].Line != 4 || rows[1].MailboxType != MailboxTypePrimaryOnly {
		t.Fatalf("rows = %+v", rows)
	}
	bad := map[string]string{
		"empty":          "",
		"no email col":   "Name\nx\n",
		"unknown col":    "EmailAddress,Foo\na@b.example,1\n",
		"dup col":        "EmailAddress,emailaddress\na@b.example,a@b.example\n",
		"bad address":    "EmailAddress\nnot-an-address\n",
		"empty address":  "EmailAddress,MailboxType\n,PrimaryOnly\n",
		"duplicate":      "EmailAddress\na@b.example\nA@B.example\n",
		"bad type":       "EmailAddress,MailboxType\na@b.example,Everything\n",
		"too many":       "EmailAddress\na@b.example,x\n",
		"quote":          "EmailAddress\n\"a@b.example\n",
		"header only":    "EmailAddress\n",
		"bad source":     "EmailAddress,SourceEmailAddress\na@b.example,nope\n",
		"binary garbage": "EmailAddress\n\x00\x01\x02@@\n",
	}
	for name, in := range bad {
		_, err := ParseCSV([]byte(in))
		if errs.CodeOf(err) != "InvalidCsv" {
			t.Errorf("%s: got %v, want InvalidCsv", name, err)
		}
	}
	_, err = ParseCSV([]byte("EmailAddress\na@b.example\nc@d.example\na@b.example\n"))
	if e := errs.As(err); e == nil || e.Message != "line 4: a@b.example is listed twice (also on line 2)" {
		t.Fatalf("duplicate message: %v", err)
	}
}

func FuzzParseCSV(f *testing.F) {
	f.Add([]byte("EmailAddress\nuser01@fabrikam.example\n"))
	f.Add([]byte("EmailAddress,SourceEmailAddress,MailboxType\na@b.example,c@d.example,ArchiveOnly\n"))
	f.Add([]byte("\"EmailAddress\"\n\"a@b.example\"\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := ParseCSV(data)
		if err != nil {
			if errs.CodeOf(err) != "InvalidCsv" {
				t.Fatalf("error without InvalidCsv code: %v", err)
			}
			return
		}
		if len(rows) == 0 {
			t.Fatal("no rows and no error")
		}
		for _, r := range rows {
			if r.EmailAddress == "" || r.Line < 2 {
				t.Fatalf("bad row %+v", r)
			}
		}
	})
}
