package importer_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/mailstore/importer"
	"github.com/tenantferry/tenantferry/internal/message"
)

// TestImportStoresPartTree: a message larger than
// mailstore.StoredPartsAbove imported from an mbox has its part tree
// stored by the import itself (built while the bytes streamed in), and it
// is Parse's tree of the stored bytes.
func TestImportStoresPartTree(t *testing.T) {
	big := "Subject: big\n\n" + strings.Repeat("a line of an imported body\n", mailstore.StoredPartsAbove/26+10)
	mbox := "From a Thu Apr 29 23:34:45 2015\n" + big
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		s, mb := newMailbox(t, d)
		im := importer.New(s, mb.ID, importer.Options{})
		if err := im.Mbox(bg, "", "big.mbox", strings.NewReader(mbox)); err != nil {
			t.Fatal(err)
		}
		if _, err := im.Close(bg); err != nil {
			t.Fatal(err)
		}
		var enc []byte
		if err := d.Read().QueryRowContext(bg, `SELECT tree FROM message_parts WHERE sha256 = ?`, sum([]byte(big))).Scan(&enc); err != nil {
			t.Fatalf("no part tree after the import: %v", err)
		}
		if p, err := message.Decode(enc); err != nil || !reflect.DeepEqual(p, message.ParseBytes([]byte(big))) {
			t.Fatalf("the tree stored by the import is not Parse's (%v)", err)
		}
	})
}
