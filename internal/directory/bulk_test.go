package directory_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/identity"
)

// TestCreateMailboxes: a CSV of mailboxes with a password, a pre-computed
// hash or none is created in chunks at a few statements per chunk; a file
// with bad rows is refused with every bad row (row, column, code) and
// creates nothing.
func TestCreateMailboxes(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		x := newDir(t, d)
		c := mustTenant(t, x, "contoso")
		f := mustTenant(t, x, "fabrikam")
		mustMailbox(t, x, c.ID, "taken")
		dom := c.InitialDomain
		hash, err := identity.HashPassword("pre-hashed")
		must(t, err)

		csv := "Address,DisplayName,Password,PasswordHash,Quota\n" +
			"alice@" + dom + ",Alice A,alice-pw,,2GB\n" +
			"bob@" + dom + ",,,\"" + hash + "\",\n" +
			"carol@" + dom + ",Carol,,,unlimited\n"
		rows, err := directory.ReadMailboxCSV(strings.NewReader(csv))
		must(t, err)
		res, err := x.CreateMailboxes(ctx, c.ID, rows)
		must(t, err)
		if len(res.Mailboxes) != 3 || res.WithoutPassword != 1 {
			t.Fatalf("created %d, %d without password", len(res.Mailboxes), res.WithoutPassword)
		}
		for login, pw := range map[string]string{"alice@" + dom: "alice-pw", "bob@" + dom: "pre-hashed"} {
			if _, err := x.Login(ctx, login, pw); err != nil {
				t.Fatalf("login %s: %v", login, err)
			}
		}
		if _, err := x.Login(ctx, "carol@"+dom, ""); !errors.Is(err, directory.ErrLoginFailed) {
			t.Fatalf("carol has no password yet, login: %v", err)
		}
		a, err := x.GetRecipient(ctx, c.ID, "alice")
		must(t, err)
		if a.DisplayName != "Alice A" || a.Quota != 2<<30 || a.Type != directory.UserMailbox || a.ExchangeGuid == "" ||
			len(a.Proxies) != 1 || !a.Proxies[0].Primary {
			t.Fatalf("alice = %+v", a)
		}
		if b, _ := x.GetRecipient(ctx, c.ID, "bob"); b.DisplayName != "bob" || !b.HasPassword {
			t.Fatalf("bob = %+v", b)
		}

		// 1,200 rows without passwords: a few statements per chunk of
		// directory.BulkChunk, none per row.
		var sb strings.Builder
		sb.WriteString("Address\n")
		for i := 0; i < 1200; i++ {
			fmt.Fprintf(&sb, "bulk%04d@%s\n", i, dom)
		}
		rows, err = directory.ReadMailboxCSV(strings.NewReader(sb.String()))
		must(t, err)
		before := d.Statements()
		res, err = x.CreateMailboxes(ctx, c.ID, rows)
		must(t, err)
		if st := d.Statements() - before; len(res.Mailboxes) != 1200 || st > 20 {
			t.Fatalf("%d mailboxes in %d statements", len(res.Mailboxes), st)
		}

		// A bad file: every bad row is reported, nothing is created.
		n := column[int](t, d, `SELECT COUNT(*) FROM recipients WHERE tenant_id = ?`, c.ID)
		bad := "address,password,passwordhash,quota,displayname\n" +
			"new1@" + dom + ",pw,,,\n" + // row 2: good
			"not an address,,,,\n" + // 3
			"taken@" + dom + ",,,,\n" + // 4: alias and address exist
			"new1@" + dom + ",,,,\n" + // 5: repeats row 2
			"x@" + f.InitialDomain + ",,,,\n" + // 6: fabrikam's domain
			"new2@" + dom + ",pw,\"" + hash + "\",,\n" + // 7: both
			"new3@" + dom + ",,\"$argon2id$v=19$m=1,t=1,p=1$AAAA$AAAA\",,\n" + // 8: bad hash
			"new4@" + dom + ",,,lots,\n" + // 9: bad quota
			"new5@" + dom + ",,,,\"bad\x01name\"\n" // 10: control character
		rows, err = directory.ReadMailboxCSV(strings.NewReader(bad))
		must(t, err)
		_, err = x.CreateMailboxes(ctx, c.ID, rows)
		if !errors.Is(err, directory.ErrInvalidRows) {
			t.Fatalf("bad file: %v", err)
		}
		var re directory.RowErrors
		if !errors.As(err, &re) {
			t.Fatalf("no RowErrors in %v", err)
		}
		want := []string{"3 Address InvalidSmtpAddress", "4 Address ProxyAddressExists", "5 Address DuplicateRow", "6 Address NotAcceptedDomain",
			"7 PasswordHash AmbiguousPassword", "8 PasswordHash InvalidPasswordHash", "9 Quota InvalidQuota", "10 DisplayName InvalidName"}
		var got []string
		for _, e := range re {
			got = append(got, fmt.Sprintf("%d %s %s", e.Row, e.Column, e.Code))
			if e.Message == "" || e.Hint == "" {
				t.Errorf("row %d: message %q hint %q", e.Row, e.Message, e.Hint)
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("row errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if !strings.Contains(err.Error(), "row 9, Quota: InvalidQuota") {
			t.Fatalf("the refusal does not list the rows: %v", err)
		}
		if m := column[int](t, d, `SELECT COUNT(*) FROM recipients WHERE tenant_id = ?`, c.ID); m != n {
			t.Fatalf("a refused file created %d recipients", m-n)
		}

		// Files that are not mailbox CSVs.
		for name, file := range map[string]string{
			"empty":          "",
			"unknown column": "Address,Colour\na@" + dom + ",red\n",
			"no Address":     "DisplayName\nA\n",
			"ragged":         "Address,DisplayName\na@" + dom + "\nb@" + dom + ",B,extra\n",
		} {
			if _, err := directory.ReadMailboxCSV(strings.NewReader(file)); !errors.Is(err, directory.ErrInvalidCSV) {
				t.Errorf("%s: %v, want InvalidCsv", name, err)
			}
		}
		if _, err := x.CreateMailboxes(ctx, c.ID, nil); !errors.Is(err, directory.ErrInvalidCSV) {
			t.Fatalf("no rows: %v", err)
		}
	})
}
