package imapd_test

import (
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/message"
)

// TestAppendStoresPartTree: a message larger than
// mailstore.StoredPartsAbove APPENDed over IMAP has its part tree stored
// when the APPEND completes, before any FETCH (built while the literal
// streamed to the blob store, so nothing reads the blob to parse it); it
// is Parse's tree, and FETCH BODYSTRUCTURE and BODY[1] serve it.
func TestAppendStoresPartTree(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, nil)
		addr := e.user(t, "alice")
		c := e.login(t, addr, nil)
		part1 := "first part\r\n"
		msg := "Subject: big\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n" + part1 +
			"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n", mailstore.StoredPartsAbove/78+10) +
			"--b--\r\n"
		uid := appendMsg(t, c, "INBOX", msg, nil)
		sum := sha256.Sum256([]byte(msg))
		var enc []byte
		if err := d.Read().QueryRowContext(bg, `SELECT tree FROM message_parts WHERE sha256 = ?`, hex.EncodeToString(sum[:])).Scan(&enc); err != nil {
			t.Fatalf("no part tree right after APPEND: %v", err)
		}
		if p, err := message.Decode(enc); err != nil || !reflect.DeepEqual(p, message.ParseBytes([]byte(msg))) {
			t.Fatalf("the tree stored at APPEND is not Parse's (%v)", err)
		}
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		sec := &imap.FetchItemBodySection{Part: []int{1}, Peek: true}
		msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{BodyStructure: &imap.FetchItemBodyStructure{}, BodySection: []*imap.FetchItemBodySection{sec}}).Collect()
		if err != nil || len(msgs) != 1 {
			t.Fatalf("fetch: %v", err)
		}
		mp, ok := msgs[0].BodyStructure.(*imap.BodyStructureMultiPart)
		if !ok || len(mp.Children) != 2 || string(msgs[0].FindBodySection(sec)) != strings.TrimSuffix(part1, "\r\n") {
			t.Fatalf("bodystructure %#v, part 1 %q", msgs[0].BodyStructure, msgs[0].FindBodySection(sec))
		}
	})
}
