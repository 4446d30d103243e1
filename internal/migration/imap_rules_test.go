package migration_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// imapUser waits until the batch user of addr satisfies ok.
func imapUser(t *testing.T, s *scenario.Server, batch, addr, what string, ok func(u *migration.UserView) bool) *migration.UserView {
	t.Helper()
	var u *migration.UserView
	scenario.Eventually(t, time.Minute, batch+" "+addr+" "+what, func() error {
		us, err := s.Admin.BatchUsers(context.Background(), s.Op, "fabrikam", batch)
		if err != nil {
			return err
		}
		for _, x := range us {
			if strings.EqualFold(x.EmailAddress, addr) {
				u = x
				if ok(x) {
					return nil
				}
				return fmt.Errorf("%s %s", x.Status, x.StatusDetail)
			}
		}
		return fmt.Errorf("%s is not in %s", addr, batch)
	})
	return u
}

// TestIMAPValidationRules triggers every validation rule of an IMAP batch
// against a Dovecot source and checks that a refused user wrote nothing:
// the target mailbox is unchanged and the move has no mirror.
//   - SourceLoginFailed: a wrong password in the CSV (the error names the
//     user and points at the CSV);
//   - RecipientNotFound: an address with no recipient;
//   - TargetNotMailbox: a MailUser target;
//   - UserInAnotherBatch: a user already in an active batch (refused when
//     the batch is created);
//   - EndpointUnreachable: an endpoint whose server does not answer
//     (`endpoint test` fails, the user retries in Validating); stopped,
//     the endpoint set to the running server and started again, the user
//     syncs; removing the batch keeps the copied items and deletes the
//     sealed password and the mirror;
//   - InvalidCsv: a CSV without the IMAP columns, native columns on an IMAP
//     endpoint, IMAP columns on a native endpoint;
//   - endpoint creation: an IMAP endpoint needs an imap:// or imaps:// URL
//     and a known Security; a native one refuses an IMAP URL.
func TestIMAPValidationRules(t *testing.T) {
	skipWithoutDovecot(t)
	ctx := context.Background()
	s := scenario.Start(t, scenario.Options{SMTP: "off"})
	tn := s.Tenant("fabrikam")
	alice := s.Mailbox("fabrikam", "alice", "pw-alice-target", false)
	src := startDovecot(t, map[string]string{"alice": alicePassword}, map[string][]scenario.Item{"alice": bobItems()[:10]})
	if _, err := s.Admin.CreateEndpoint(ctx, s.Op, "fabrikam", directory.EndpointSpec{Name: "dove", Type: directory.EndpointIMAP,
		RemoteServer: "imap://" + src.addr}); err != nil {
		t.Fatal(err)
	}
	mb := s.Content("fabrikam", alice.ExchangeGuid).ID
	before := scenario.Take(t, s.Store, mb)
	nothingWritten := func(t *testing.T) {
		t.Helper()
		if d := scenario.Diff(before, scenario.Take(t, s.Store, mb)); d != "" {
			t.Fatalf("the target mailbox changed:\n%s", d)
		}
		for _, tbl := range []string{"imap_items", "imap_folders", "imap_mirror"} {
			if n := mirrorRows(t, s, tbl); n != 0 {
				t.Fatalf("%d rows in %s", n, tbl)
			}
		}
	}
	batch := func(t *testing.T, name, ep string, csv []byte) error {
		t.Helper()
		_, err := s.Admin.CreateBatch(ctx, s.Op, "fabrikam", migration.BatchSpec{Name: name, Endpoint: ep, CSV: csv, AutoStart: true})
		return err
	}
	failed := func(t *testing.T, name, addr, code string) *migration.UserView {
		t.Helper()
		u := imapUser(t, s, name, addr, "Failed", func(u *migration.UserView) bool { return u.Status == migration.StateFailed })
		if u.Error == nil || u.Error.Code != code || u.StatusDetail != code || u.ItemsSynced != 0 || u.BytesTransferred != 0 {
			t.Fatalf("%s: %+v %+v, want Failed with %s and nothing synced", addr, u, u.Error, code)
		}
		if _, err := s.Admin.BatchCommand(ctx, s.Op, "fabrikam", name, "remove", false); err != nil {
			t.Fatal(err)
		}
		return u
	}

	t.Run("SourceLoginFailed", func(t *testing.T) {
		if err := batch(t, "wrongpw", "dove", imapCSV([3]string{alice.PrimarySmtpAddress, "alice", "not the password"})); err != nil {
			t.Fatal(err)
		}
		u := failed(t, "wrongpw", alice.PrimarySmtpAddress, "SourceLoginFailed")
		if !strings.Contains(u.Error.Message, "alice") || !strings.Contains(u.Error.Message, "CSV") || strings.Contains(u.Error.Message, "not the password") {
			t.Fatalf("message %q should name the user and the CSV, not the password", u.Error.Message)
		}
		nothingWritten(t)
	})
	t.Run("RecipientNotFound", func(t *testing.T) {
		addr := "nobody@" + tn.InitialDomain
		if err := batch(t, "nobody", "dove", imapCSV([3]string{addr, "alice", alicePassword})); err != nil {
			t.Fatal(err)
		}
		failed(t, "nobody", addr, "RecipientNotFound")
		nothingWritten(t)
	})
	t.Run("TargetNotMailbox", func(t *testing.T) {
		mu, err := s.Admin.CreateRecipient(ctx, s.Op, "fabrikam", directory.RecipientSpec{Type: directory.MailUser, Alias: "carol", Name: "carol",
			PrimarySmtp: "carol@" + tn.InitialDomain, ExternalEmail: "carol@legacy.example"})
		if err != nil {
			t.Fatal(err)
		}
		if err := batch(t, "mailuser", "dove", imapCSV([3]string{mu.PrimarySmtpAddress, "alice", alicePassword})); err != nil {
			t.Fatal(err)
		}
		failed(t, "mailuser", mu.PrimarySmtpAddress, "TargetNotMailbox")
		nothingWritten(t)
		res, err := s.Admin.TestEndpoint(ctx, s.Op, "fabrikam", "dove", mu.PrimarySmtpAddress, "")
		if err != nil {
			t.Fatal(err)
		}
		wantCheck(t, res, "TargetNotMailbox")
	})
	t.Run("UserInAnotherBatch", func(t *testing.T) {
		if _, err := s.Admin.CreateBatch(ctx, s.Op, "fabrikam", migration.BatchSpec{Name: "first", Endpoint: "dove",
			CSV: imapCSV([3]string{alice.PrimarySmtpAddress, "alice", alicePassword})}); err != nil {
			t.Fatal(err)
		}
		wantCode(t, batch(t, "second", "dove", imapCSV([3]string{alice.PrimarySmtpAddress, "alice", alicePassword})), "UserInAnotherBatch")
		if _, err := s.Admin.GetBatch(ctx, s.Op, "fabrikam", "second"); err == nil {
			t.Fatal("the refused batch exists")
		}
		if _, err := s.Admin.BatchCommand(ctx, s.Op, "fabrikam", "first", "remove", false); err != nil {
			t.Fatal(err)
		}
		nothingWritten(t)
	})
	t.Run("InvalidCsv", func(t *testing.T) {
		wantCode(t, batch(t, "csv1", "dove", []byte("EmailAddress\n"+alice.PrimarySmtpAddress+"\n")), "InvalidCsv")
		wantCode(t, batch(t, "csv2", "dove", []byte("EmailAddress,UserName,Password,MailboxType\n"+alice.PrimarySmtpAddress+",alice,x,PrimaryOnly\n")), "InvalidCsv")
		if _, err := s.Admin.CreateEndpoint(ctx, s.Op, "fabrikam", directory.EndpointSpec{Name: "native", RemoteServer: "https://src.example",
			RemoteTenant: "contoso.tenantferry.test", ApplicationId: "3f1c6b0e-4a57-4d2b-9a8e-2c6f5d7e9b10", Secret: "s3cret"}); err != nil {
			t.Fatal(err)
		}
		e := wantCode(t, batch(t, "csv3", "native", imapCSV([3]string{alice.PrimarySmtpAddress, "alice", alicePassword})), "InvalidCsv")
		if !strings.Contains(e.Message, "IMAP") {
			t.Fatalf("message %q", e.Message)
		}
		nothingWritten(t)
	})
	t.Run("EndpointFields", func(t *testing.T) {
		for _, c := range []struct {
			spec directory.EndpointSpec
			code string
		}{
			{directory.EndpointSpec{Name: "x1", Type: directory.EndpointIMAP, RemoteServer: "https://imap.example"}, "InvalidRemoteServer"},
			{directory.EndpointSpec{Name: "x2", Type: directory.EndpointIMAP, RemoteServer: "imaps://imap.example", Security: "Maybe"}, "InvalidSecurity"},
			{directory.EndpointSpec{Name: "x3", RemoteServer: "imap://imap.example", RemoteTenant: "contoso.example",
				ApplicationId: "3f1c6b0e-4a57-4d2b-9a8e-2c6f5d7e9b10", Secret: "s"}, "InvalidRemoteServer"},
		} {
			_, err := s.Admin.CreateEndpoint(ctx, s.Op, "fabrikam", c.spec)
			wantCode(t, err, c.code)
		}
		ep, err := s.Admin.CreateEndpoint(ctx, s.Op, "fabrikam", directory.EndpointSpec{Name: "tls", Type: directory.EndpointIMAP,
			RemoteServer: "imaps://imap.example", Security: "ssl"})
		if err != nil || ep.Security != "Ssl" || ep.RemoteTenant != "" || ep.ApplicationId != "" {
			t.Fatalf("IMAP endpoint without tenant, app or secret: %+v %v", ep, err)
		}
	})
	t.Run("EndpointUnreachable", func(t *testing.T) {
		closed := scenario.FreeAddr(t)
		if _, err := s.Admin.CreateEndpoint(ctx, s.Op, "fabrikam", directory.EndpointSpec{Name: "down", Type: directory.EndpointIMAP,
			RemoteServer: "imap://" + closed}); err != nil {
			t.Fatal(err)
		}
		res, err := s.Admin.TestEndpoint(ctx, s.Op, "fabrikam", "down", "", "")
		if err != nil {
			t.Fatal(err)
		}
		wantCheck(t, res, "EndpointUnreachable")
		if err := batch(t, "down", "down", imapCSV([3]string{alice.PrimarySmtpAddress, "alice", alicePassword})); err != nil {
			t.Fatal(err)
		}
		u := imapUser(t, s, "down", alice.PrimarySmtpAddress, "retrying", func(u *migration.UserView) bool {
			return u.StatusDetail == "TransientFailure" && u.Error != nil
		})
		if u.Status != migration.StateValidating || u.Error.Code != "EndpointUnreachable" || !strings.Contains(u.Error.Message, closed) {
			t.Fatalf("while the IMAP server is down: %+v %+v", u, u.Error)
		}
		if _, err := s.Admin.BatchCommand(ctx, s.Op, "fabrikam", "down", "stop", false); err != nil {
			t.Fatal(err)
		}
		imapUser(t, s, "down", alice.PrimarySmtpAddress, "Stopped", func(u *migration.UserView) bool { return u.Status == migration.StateStopped })
		nothingWritten(t)
		if n := mirrorRows(t, s, "imap_credentials"); n != 1 {
			t.Fatalf("%d sealed credentials while the batch exists", n)
		}
		// The endpoint is pointed at the running server and the batch
		// started again: the user syncs. Removing the batch keeps what was
		// copied (it is the user's mailbox) and deletes the password and
		// the mirror.
		if _, err := s.Admin.UpdateEndpoint(ctx, s.Op, "fabrikam", "down", directory.EndpointUpdate{RemoteServer: "imap://" + src.addr}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Admin.BatchCommand(ctx, s.Op, "fabrikam", "down", "start", false); err != nil {
			t.Fatal(err)
		}
		u = imapUser(t, s, "down", alice.PrimarySmtpAddress, "Synced", func(u *migration.UserView) bool {
			return u.Status == migration.StateSynced && u.StatusDetail == ""
		})
		if u.ItemsSynced != 10 || u.ItemsTotal != 10 || u.Error != nil {
			t.Fatalf("after the restart: %+v", u)
		}
		if _, err := s.Admin.BatchCommand(ctx, s.Op, "fabrikam", "down", "remove", false); err != nil {
			t.Fatal(err)
		}
		for _, tbl := range []string{"imap_credentials", "imap_items", "imap_folders", "imap_mirror"} {
			if n := mirrorRows(t, s, tbl); n != 0 {
				t.Fatalf("%d rows in %s after the removal", n, tbl)
			}
		}
		if n := copied(t, s.Store, mb).Count(); n != 10 {
			t.Fatalf("%d copied items in the mailbox after the removal, want the 10 copied", n)
		}
	})
}
