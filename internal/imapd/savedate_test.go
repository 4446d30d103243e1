package imapd_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// appendDated appends msg to INBOX with the given INTERNALDATE.
func appendDated(r *rawConn, date, msg string) {
	r.t.Helper()
	r.mustOK(fmt.Sprintf("APPEND INBOX %q {%d+}\r\n%s", date, len(msg), msg))
}

// saveDateRx finds the day of a SAVEDATE in a FETCH response.
var saveDateRx = regexp.MustCompile(`SAVEDATE "(\d{2}-\w{3}-\d{4}) `)

// TestWithinAndSaveDate: OLDER/YOUNGER (RFC 5032) compare INTERNALDATE
// with the time of the search; SAVEDATE (RFC 8514) is when the message
// was saved into its folder — today for a message APPENDed with a 2001
// INTERNALDATE — and SAVEDBEFORE/ON/SINCE and
// SAVEDATESUPPORTED search it; both capabilities are advertised.
func TestWithinAndSaveDate(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r, _ := rawSession(t, e, "within")
		caps := strings.Join(r.mustOK("CAPABILITY"), " ")
		for _, c := range []string{" WITHIN", " SAVEDATE"} {
			if !strings.Contains(caps+" ", c+" ") {
				t.Errorf("CAPABILITY lacks%s: %q", c, caps)
			}
		}
		appendDated(r, "01-Jan-2001 10:00:00 +0000", "Subject: old\r\n\r\nold\r\n")
		recent := time.Now().Add(-10 * time.Minute).Format("02-Jan-2006 15:04:05 -0700")
		appendDated(r, recent, "Subject: recent\r\n\r\nrecent\r\n")
		r.mustOK("SELECT INBOX")

		today := time.Now().UTC()
		checkSearches(t, r, map[string]string{
			"YOUNGER 3600":                "* SEARCH 2",
			"OLDER 3600":                  "* SEARCH 1",
			"OLDER 60":                    "* SEARCH 1 2",
			"YOUNGER 60":                  "* SEARCH",
			"NOT YOUNGER 3600":            "* SEARCH 1",
			"OR OLDER 86400 YOUNGER 3600": "* SEARCH 1 2",
			"SAVEDATESUPPORTED":           "* SEARCH 1 2",
			"SAVEDSINCE " + today.AddDate(0, 0, -1).Format("2-Jan-2006"): "* SEARCH 1 2",
			"SAVEDON " + today.Format("2-Jan-2006"):                      "* SEARCH 1 2",
			"SAVEDBEFORE 1-Jan-2002":                                     "* SEARCH",
			"SAVEDSINCE " + today.AddDate(0, 0, 2).Format("2-Jan-2006"):  "* SEARCH",
			"BEFORE 1-Jan-2002":                                          "* SEARCH 1",
		})
		got := r.mustOK("FETCH 1:2 (INTERNALDATE SAVEDATE)")
		for _, l := range got {
			sm := saveDateRx.FindStringSubmatch(l)
			if sm == nil {
				t.Fatalf("no SAVEDATE in %q", l)
			}
			m := sm[1]
			if d, _ := time.Parse("02-Jan-2006", m); d.Year() < 2020 {
				t.Errorf("SAVEDATE %s is the INTERNALDATE, not the save date: %q", m, l)
			}
		}
		for _, bad := range []string{"SEARCH OLDER", "SEARCH YOUNGER -5", "SEARCH OLDER 0", "SEARCH SAVEDON 2001-01-01"} {
			if _, done := r.cmd("%s", bad); !strings.HasPrefix(done, "BAD") {
				t.Errorf("%s: %q, want BAD", bad, done)
			}
		}
		if _, done := r.cmd("SEARCH HEADER {3+}\r\na\x00b x"); !strings.HasPrefix(done, "BAD") {
			t.Errorf("HEADER name with a NUL: %q, want BAD", done)
		}
	})
}
