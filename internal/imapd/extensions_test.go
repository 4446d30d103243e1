package imapd_test

import (
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/imapd"
)

// TestExtensions checks the protocol details of the advertised extensions
// on the wire: capabilities after login (APPENDLIMIT), LIST "" "",
// LIST-EXTENDED selection and return options, LSUB, NAMESPACE, STATUS
// items, ESEARCH (RETURN and IMAP4rev2), SEARCHRES ($), UID EXPUNGE,
// ENABLE IMAP4rev2 (no RECENT, LIST in SELECT) and RENAME INBOX.
func TestExtensions(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, func(o *imapd.Options) { o.AppendLimit = 1 << 20 })
		addr := e.user(t, "alice")
		c := e.login(t, addr, nil)
		for i := 0; i < 3; i++ {
			appendMsg(t, c, "INBOX", "Subject: m"+itoa(i)+"\r\n\r\nbody "+itoa(i)+"\r\n", &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}})
		}
		appendMsg(t, c, "INBOX", "Subject: unread\r\n\r\nnew\r\n", nil)

		r := e.raw(t)
		_, done := r.cmd("LOGIN %q %q", addr, password)
		if !strings.Contains(done, "APPENDLIMIT=1048576") || !strings.Contains(done, "UIDPLUS") || !strings.Contains(done, "MOVE") ||
			!strings.Contains(done, "SPECIAL-USE") || !strings.Contains(done, "LIST-STATUS") || !strings.Contains(done, "ESEARCH") {
			t.Errorf("capabilities after login: %s", done)
		}
		check := func(cmd string, wantDone string, wantLines ...string) []string {
			t.Helper()
			untagged, done := r.cmd("%s", cmd)
			if !strings.HasPrefix(done, wantDone) {
				t.Errorf("%s: %s", cmd, done)
			}
			for _, w := range wantLines {
				if !containsLine(untagged, w) {
					t.Errorf("%s: no %q in %q", cmd, w, untagged)
				}
			}
			return untagged
		}
		check(`LIST "" ""`, "OK", `* LIST (\Noselect) "/" ""`)
		check(`LIST "" "inbox"`, "OK", `* LIST (\HasNoChildren) "/" INBOX`)
		check(`LIST (SPECIAL-USE) "" "*"`, "OK", `\Sent) "/" "Sent Items"`)
		if lines := check(`LIST (SPECIAL-USE) "" "*"`, "OK"); containsLine(lines, "INBOX") {
			t.Errorf("LIST (SPECIAL-USE) lists INBOX: %q", lines)
		}
		check(`LIST "" "*" RETURN (SUBSCRIBED STATUS (MESSAGES UNSEEN SIZE))`, "OK", `\Subscribed`, `* STATUS INBOX (MESSAGES 4 UNSEEN 1 SIZE `)
		check("UNSUBSCRIBE Archive", "OK")
		if lines := check(`LSUB "" "*"`, "OK", `* LSUB`); containsLine(lines, "Archive") {
			t.Errorf("LSUB lists an unsubscribed folder: %q", lines)
		}
		check("CREATE Archive/2024", "OK")
		check("SUBSCRIBE Archive/2024", "OK")
		check(`LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"`, "OK", `"Archive" (CHILDINFO ("SUBSCRIBED"))`)
		check("NAMESPACE", "OK", `* NAMESPACE (("" "/")) NIL NIL`)
		check("STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE APPENDLIMIT)", "OK",
			"MESSAGES 4", "RECENT 4", "UIDNEXT 5", "UNSEEN 1", "DELETED 0", "APPENDLIMIT 1048576")
		check("STATUS Calendar (MESSAGES)", "NO [NONEXISTENT]")

		check("SELECT INBOX", "OK [READ-WRITE]", "* 4 EXISTS", "* 4 RECENT", "[UIDVALIDITY ", "[UIDNEXT 5]", "[UNSEEN 4]", `[PERMANENTFLAGS (`)
		check("STATUS INBOX (RECENT)", "OK", "RECENT 0") // this session claimed them
		check("SEARCH RETURN (MIN MAX COUNT) SEEN", "OK", "* ESEARCH (TAG ")
		if lines := check("UID SEARCH RETURN (MIN MAX COUNT) SEEN", "OK"); !containsLine(lines, "UID MIN 1 MAX 3 COUNT 3") {
			t.Errorf("ESEARCH: %q", lines)
		}
		check("SEARCH RETURN (SAVE) UNSEEN", "OK")
		check("FETCH $ (UID)", "OK", "* 4 FETCH (UID 4)")
		check("SEARCH OR $ 1", "OK", "* SEARCH 1 4")
		check(`UID STORE 1:2 +FLAGS.SILENT (\Deleted)`, "OK")
		if lines := check("UID EXPUNGE 2", "OK", "* 2 EXPUNGE"); len(lines) != 1 {
			t.Errorf("UID EXPUNGE 2 expunged more: %q", lines)
		}
		check("ENABLE IMAP4rev2", "OK", "* ENABLED IMAP4rev2")
		if lines := check("SELECT INBOX", "OK", "* 3 EXISTS", `* LIST () "/" INBOX`); containsLine(lines, "RECENT") {
			t.Errorf("RECENT after ENABLE IMAP4rev2: %q", lines)
		}
		check("SEARCH SEEN", "OK", "* ESEARCH (TAG ")
		check("RENAME INBOX Old", "OK")
		check("STATUS Old (MESSAGES)", "OK", "MESSAGES 3")
		check("STATUS INBOX (MESSAGES)", "OK", "MESSAGES 0")
	})
}
