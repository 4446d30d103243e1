package replication_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/identity"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/message"
	"github.com/tenantferry/tenantferry/internal/replication"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestSyncStoresPartTree: content larger than mailstore.StoredPartsAbove
// that a sync pass transfers gets its part tree stored by the target's
// append (built while the bytes streamed from the source), so the first
// FETCH on the target reads no blob to parse it. The source's tree is
// deleted first: the target's comes from the pass itself.
func TestSyncStoresPartTree(t *testing.T) {
	ctx := context.Background()
	s := scenario.Start(t, scenario.Options{SMTP: "off"})
	s.Tenant("contoso")
	fab := s.Tenant("fabrikam")
	tr := scenario.SetupTrust(t, s, "contoso", s, "fabrikam")
	big := scenario.Message("a@example.net", "b@example.net", "big", strings.Repeat("a line of the body\r\n", mailstore.StoredPartsAbove/20+10))
	src := s.Mailbox("contoso", "user01", "pw", false)
	scenario.Fill(t, s.Store, s.Content("contoso", src.ExchangeGuid).ID, []scenario.Item{{Folder: "Inbox", Data: big, Date: time.Now()}})
	tr.AddToScope(t, s, "user01")
	if _, err := s.DB.Read().ExecContext(ctx, `DELETE FROM message_parts`); err != nil {
		t.Fatal(err)
	}
	tokens := identity.NewTokenSource(http.DefaultClient, identity.TokenURL(s.PublicURL, tr.TargetTenant.ID), tr.AppID, tr.Secret, s.PublicURL)
	target, err := s.Store.CreateMailbox(ctx, mailstore.NewMailbox{TenantID: fab.ID, GUID: src.ExchangeGuid, State: mailstore.StateStaging})
	if err != nil {
		t.Fatal(err)
	}
	job := &replication.Job{Source: replication.NewClient(http.DefaultClient, s.PublicURL, tr.SourceTenant.InitialDomain, tokens),
		SourceGUID: src.ExchangeGuid, MailboxID: target.ID,
		Sink: func(*db.Tx, replication.Watermark, replication.Delta, []replication.Skipped) error { return nil }}
	if _, _, err := (&replication.Engine{Store: s.Store}).Pass(ctx, job, replication.Watermark{}); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(big)
	var enc []byte
	if err := s.DB.Read().QueryRowContext(ctx, `SELECT tree FROM message_parts WHERE sha256 = ?`, hex.EncodeToString(sum[:])).Scan(&enc); err != nil {
		t.Fatalf("no part tree after the pass: %v", err)
	}
	if p, err := message.Decode(enc); err != nil || !reflect.DeepEqual(p, message.ParseBytes(big)) {
		t.Fatalf("the tree stored by the pass is not Parse's (%v)", err)
	}
}
