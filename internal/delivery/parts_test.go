package delivery_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/blobstore/blobtest"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	msgparse "github.com/tenantferry/tenantferry/internal/message"
)

// TestQueuedPartTree: a message larger than mailstore.StoredPartsAbove has
// its part tree stored when the queue accepts it (built while the bytes
// streamed in, committed with them), before any delivery or FETCH reads
// the blob; the tree is Parse's tree of the stored bytes (our Received
// header included), and the delivered item's Parts serves it. A small
// message stores none.
func TestQueuedPartTree(t *testing.T) {
	blobtest.Backends(t, blobstore.Options{}, func(t *testing.T, be *blobtest.Env) {
		e := newEnvOn(t, be, nil, nil)
		tn := e.tenant("contoso")
		alice := e.mailbox(tn, "alice")
		body := "Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n\r\nhello\r\n--zz\r\nContent-Type: text/plain\r\n\r\n" +
			strings.Repeat("a long line of text\r\n", mailstore.StoredPartsAbove/20+10) + "--zz--"
		raw := "From: <x@example.org>\r\nSubject: big\r\n" + body
		small := e.send("x@example.org", []string{alice.PrimarySmtpAddress}, message("x@example.org", alice.PrimarySmtpAddress, "small", "hi"))
		q := e.send("x@example.org", []string{alice.PrimarySmtpAddress}, raw)
		var enc []byte
		if err := e.d.Read().QueryRowContext(bg, `SELECT tree FROM message_parts WHERE sha256 = ?`, q.SHA256).Scan(&enc); err != nil {
			t.Fatalf("no part tree right after the enqueue: %v", err)
		}
		var n int
		if err := e.d.Read().QueryRowContext(bg, `SELECT COUNT(*) FROM message_parts WHERE sha256 = ?`, small.SHA256).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d trees for a small message (%v)", n, err)
		}
		got := e.waitInbox(alice, 2)
		stored := got[0]
		if len(got[1]) > len(stored) {
			stored = got[1]
		}
		want := msgparse.ParseBytes([]byte(stored))
		if p, err := msgparse.Decode(enc); err != nil || !reflect.DeepEqual(p, want) {
			t.Fatalf("the tree stored at enqueue is not Parse's tree of the stored bytes (%v)", err)
		}
		mb, err := e.store.Mailbox(bg, alice.TenantID, alice.ExchangeGuid)
		if err != nil {
			t.Fatal(err)
		}
		f, err := e.store.FolderBySpecialUse(bg, mb.ID, mailstore.UseInbox)
		if err != nil {
			t.Fatal(err)
		}
		items, err := e.store.Fetch(bg, mb.ID, f.ID, mailstore.AllUIDs)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.SHA256 != q.SHA256 {
				continue
			}
			b, err := e.store.OpenItem(bg, mb.ID, it.ID)
			if err != nil {
				t.Fatal(err)
			}
			p, err := e.store.Parts(bg, b)
			b.Close()
			if err != nil || !reflect.DeepEqual(p, want) {
				t.Fatalf("Parts of the delivered item: %v", err)
			}
		}
	})
}
