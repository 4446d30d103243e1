package imapd

import (
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// WITHIN (RFC 5032) and SAVEDATE (RFC 8514): search keys that go-imap's
// imap.SearchCriteria has no field for, and the SAVEDATE FETCH attribute.
//
//   - OLDER n / YOUNGER n match messages whose INTERNALDATE is at least /
//     less than n seconds before the moment the search runs (a saved
//     search context re-evaluates them at every update).
//   - SAVEDBEFORE, SAVEDON and SAVEDSINCE compare the save date's
//     calendar day (UTC, as BEFORE/ON/SINCE do for INTERNALDATE);
//     SAVEDATESUPPORTED matches every message: every folder of this
//     server keeps save dates.
//   - The save date is mailstore.Item.CreatedAt: set when a message is
//     stored, copied or moved into its folder. FETCH SAVEDATE writes it
//     as a date-time like INTERNALDATE (NIL if a row has none).
//
// These keys ride in imap.SearchCriteria.Header as entries whose Key
// starts with extKeyPrefix (a NUL byte): no header field name holds one,
// and the HEADER key refuses a name with a NUL, so a client cannot spell
// them; every code path that copies criteria (NOT, OR, saved contexts,
// SORT, THREAD) carries them unchanged, and candidate.match evaluates
// them through matchExtKey.

// withinCaps are the capabilities of this file (search side).
const withinCaps = " WITHIN"

// saveDateCaps is the SAVEDATE capability (FETCH and SEARCH).
const saveDateCaps = " SAVEDATE"

// extKeyPrefix marks a search key of this file in SearchCriteria.Header.
const extKeyPrefix = "\x00"

// extKeyDay is the layout of a day stored in an extension key's value.
const extKeyDay = "2006-01-02"

// withinKey reads OLDER or YOUNGER's interval into c.
func (r *argReader) withinKey(c *imap.SearchCriteria, key string) {
	r.sp()
	n := r.number()
	if r.err != "" {
		return
	}
	if n <= 0 {
		r.fail(key + " needs a positive number of seconds")
		return
	}
	c.Header = append(c.Header, imap.SearchCriteriaHeaderField{Key: extKeyPrefix + key, Value: strconv.FormatInt(n, 10)})
}

// saveDateKey reads SAVEDBEFORE, SAVEDON or SAVEDSINCE's date into c.
func (r *argReader) saveDateKey(c *imap.SearchCriteria, key string) {
	r.sp()
	d := r.date()
	if r.err != "" {
		return
	}
	c.Header = append(c.Header, imap.SearchCriteriaHeaderField{Key: extKeyPrefix + key, Value: d.Format(extKeyDay)})
}

// matchExtKey evaluates a key of this file (name without extKeyPrefix).
func (m *candidate) matchExtKey(name, value string) bool {
	switch name {
	case "OLDER", "YOUNGER":
		n, _ := strconv.ParseInt(value, 10, 64)
		cut := time.Now().Add(-time.Duration(n) * time.Second)
		older := !m.it.InternalDate.After(cut)
		return older == (name == "OLDER")
	case "SAVEDBEFORE", "SAVEDON", "SAVEDSINCE":
		day, _ := time.Parse(extKeyDay, value)
		saved := m.it.CreatedAt.UTC()
		if saved.IsZero() {
			return false
		}
		switch name {
		case "SAVEDBEFORE":
			return dateIn(saved, time.Time{}, day)
		case "SAVEDON":
			return dateIn(saved, day, day.AddDate(0, 0, 1))
		}
		return dateIn(saved, day, time.Time{})
	}
	return false
}

// headerKeyName checks the field name of a HEADER search key: a name
// with a NUL byte (which no field has) would spell a key of this file.
func (r *argReader) headerKeyName(name string) string {
	if strings.Contains(name, extKeyPrefix) {
		r.fail("a header field name cannot contain a NUL byte")
	}
	return name
}
