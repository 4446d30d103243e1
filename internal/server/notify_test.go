package server_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/identity"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestTwoNodesIMAPUpdates runs two nodes on one PostgreSQL database: a
// client in IDLE on node B sees a message appended through node A.
func TestTwoNodesIMAPUpdates(t *testing.T) {
	if os.Getenv(dbtest.EnvPostgres) == "" {
		t.Skip("set " + dbtest.EnvPostgres + " to run the multi-node test")
	}
	dsn := dbtest.DSN(t, db.Postgres)
	a := scenario.Start(t, scenario.Options{DB: dsn, SMTP: "off", IMAP: "127.0.0.1:0"})
	// Nodes share the server key (and the blob directory, here through
	// the database backend it is not needed for this test).
	dirB := t.TempDir()
	key, err := os.ReadFile(filepath.Join(a.Cfg.DataDir, identity.ServerKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dirB, identity.ServerKeyFile), key, 0o600)
	b := scenario.Start(t, scenario.Options{DB: dsn, DataDir: dirB, SMTP: "off", IMAP: "127.0.0.1:0"})

	a.Tenant("contoso")
	u := a.Mailbox("contoso", "user01", "pw-user01", false)
	exists := make(chan uint32, 16)
	c, err := imapclient.DialInsecure(b.Addr("imap"), &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				exists <- *d.NumMessages
			}
		}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(u.PrimarySmtpAddress, "pw-user01").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()

	// Node A delivers into the mailbox.
	ctx := context.Background()
	mb := a.Content("contoso", u.ExchangeGuid)
	inbox, err := a.Store.FolderBySpecialUse(ctx, mb.ID, mailstore.UseInbox)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.Append(ctx, mb.ID, mailstore.AppendItem{FolderID: inbox.ID, Content: bytes.NewReader([]byte("Subject: across nodes\r\n\r\nhi\r\n"))}); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-exists:
		if n != 1 {
			t.Fatalf("EXISTS %d", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("node B's IDLE client did not see the message appended on node A")
	}
}
