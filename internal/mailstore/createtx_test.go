package mailstore_test

import (
	"errors"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// TestCreateMailboxTx: a mailbox created in the caller's transaction
// exists exactly when that transaction commits (a rolled-back one leaves
// nothing), and the checks of CreateMailbox apply.
func TestCreateMailboxTx(t *testing.T) {
	eachStore(t, func(t *testing.T, s *mailstore.Store, mb *mailstore.Mailbox) {
		const guid2 = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
		nm := mailstore.NewMailbox{TenantID: tenantA, GUID: guid2, Kind: mailstore.KindArchive, State: mailstore.StateStaging}
		errRollback := errors.New("roll back")
		err := s.DB().Write(bg, func(tx *db.Tx) error {
			if _, err := s.CreateMailboxTx(bg, tx, nm); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		_, err = s.Mailbox(bg, tenantA, guid2)
		wantCode(t, err, "MailboxNotFound")

		var created *mailstore.Mailbox
		if err := s.DB().Write(bg, func(tx *db.Tx) (err error) {
			created, err = s.CreateMailboxTx(bg, tx, nm)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Mailbox(bg, tenantA, guid2)
		if err != nil || got.ID != created.ID || got.Kind != mailstore.KindArchive || got.State != mailstore.StateStaging {
			t.Fatalf("after the commit: %+v %v (created %+v)", got, err, created)
		}

		err = s.DB().Write(bg, func(tx *db.Tx) error {
			_, err := s.CreateMailboxTx(bg, tx, mailstore.NewMailbox{TenantID: tenantA, GUID: guid1})
			return err
		})
		wantCode(t, err, "MailboxExists")
		err = s.DB().Write(bg, func(tx *db.Tx) error {
			_, err := s.CreateMailboxTx(bg, tx, mailstore.NewMailbox{TenantID: tenantA, GUID: "not-a-guid"})
			return err
		})
		wantCode(t, err, "InvalidMailboxGuid")
	})
}
