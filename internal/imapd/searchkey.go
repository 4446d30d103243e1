package imapd

import (
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// Search keys (RFC 3501 section 6.4.4, RFC 9051 section 6.4.4) for the
// commands answered below go-imap that take them (SEARCH, SORT, THREAD). The keys
// parse into go-imap's imap.SearchCriteria, so that SEARCH, SORT and
// THREAD match messages with the same code (search.go).

// searchKeys reads search keys up to the end of the arguments (or a
// closing parenthesis of an enclosing list) into one criteria, all of
// which must hold.
func (r *argReader) searchKeys(c *imap.SearchCriteria) {
	for r.err == "" {
		r.searchKey(c)
		if r.eof() || r.peek() == ')' {
			return
		}
		r.sp()
	}
}

// searchKeyFlags are the keys that test one flag: key → flag, and whether
// the flag must be absent.
var searchKeyFlags = map[string]struct {
	flag imap.Flag
	not  bool
}{
	"ANSWERED": {imap.FlagAnswered, false}, "DELETED": {imap.FlagDeleted, false},
	"DRAFT": {imap.FlagDraft, false}, "FLAGGED": {imap.FlagFlagged, false},
	"SEEN": {imap.FlagSeen, false}, "RECENT": {flagRecent, false}, "OLD": {flagRecent, true},
	"UNANSWERED": {imap.FlagAnswered, true}, "UNDELETED": {imap.FlagDeleted, true},
	"UNDRAFT": {imap.FlagDraft, true}, "UNFLAGGED": {imap.FlagFlagged, true}, "UNSEEN": {imap.FlagSeen, true},
}

// searchKeyHeaders are the keys that search a header field.
var searchKeyHeaders = map[string]string{"BCC": "Bcc", "CC": "Cc", "FROM": "From", "SUBJECT": "Subject", "TO": "To"}

// searchKey reads one search key into c.
func (r *argReader) searchKey(c *imap.SearchCriteria) {
	switch p := r.peek(); {
	case p == '(':
		r.pos++
		r.searchKeys(c)
		r.expect(')')
		return
	case p == '$' || p == '*' || p >= '0' && p <= '9':
		switch set := r.seqSet().(type) {
		case imap.SeqSet:
			c.SeqNum = append(c.SeqNum, set)
		case imap.UIDSet:
			c.UID = append(c.UID, set) // "$"
		}
		return
	}
	key := strings.ToUpper(r.atom())
	if f, ok := searchKeyFlags[key]; ok {
		if f.not {
			c.NotFlag = append(c.NotFlag, f.flag)
		} else {
			c.Flag = append(c.Flag, f.flag)
		}
		return
	}
	if h, ok := searchKeyHeaders[key]; ok {
		r.sp()
		c.Header = append(c.Header, imap.SearchCriteriaHeaderField{Key: h, Value: r.astring()})
		return
	}
	switch key {
	case "ALL":
	case "NEW":
		c.Flag = append(c.Flag, flagRecent)
		c.NotFlag = append(c.NotFlag, imap.FlagSeen)
	case "KEYWORD", "UNKEYWORD":
		r.sp()
		f := imap.Flag(r.atom())
		if key == "KEYWORD" {
			c.Flag = append(c.Flag, f)
		} else {
			c.NotFlag = append(c.NotFlag, f)
		}
	case "BODY", "TEXT":
		r.sp()
		if v := r.astring(); key == "BODY" {
			c.Body = append(c.Body, v)
		} else {
			c.Text = append(c.Text, v)
		}
	case "HEADER":
		r.sp()
		name := r.headerKeyName(r.astring())
		r.sp()
		c.Header = append(c.Header, imap.SearchCriteriaHeaderField{Key: name, Value: r.astring()})
	case "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE":
		r.sp()
		if d := r.date(); r.err == "" {
			dateKey(c, key, d)
		}
	case "LARGER", "SMALLER":
		r.sp()
		if n := r.number(); key == "LARGER" {
			c.Larger = max(c.Larger, n)
		} else if c.Smaller == 0 || n < c.Smaller {
			c.Smaller = n
		}
	case "UID":
		r.sp()
		c.UID = append(c.UID, r.uidSet())
	case "MODSEQ":
		r.searchModSeq(c)
	case "OLDER", "YOUNGER": // RFC 5032 (savedate.go)
		r.withinKey(c, key)
	case "SAVEDBEFORE", "SAVEDON", "SAVEDSINCE": // RFC 8514 (savedate.go)
		r.saveDateKey(c, key)
	case "SAVEDATESUPPORTED": // every folder keeps save dates
	case "NOT":
		r.sp()
		var n imap.SearchCriteria
		r.searchKey(&n)
		c.Not = append(c.Not, n)
	case "OR":
		var pair [2]imap.SearchCriteria
		r.sp()
		r.searchKey(&pair[0])
		r.sp()
		r.searchKey(&pair[1])
		c.Or = append(c.Or, pair)
	default:
		r.fail("unknown search key " + strconv.Quote(key))
	}
}

// searchModSeq reads the arguments of the MODSEQ key (RFC 7162 section
// 3.1.5): an optional entry name and type, which do not narrow the
// match (a message's MODSEQ covers its metadata), and the lowest MODSEQ.
// Several MODSEQ keys in one criteria keep the highest bound (all must
// hold).
func (r *argReader) searchModSeq(c *imap.SearchCriteria) {
	r.sp()
	if p := r.peek(); p == '"' || p == '{' {
		entry := r.astring()
		r.sp()
		typ := strings.ToLower(r.atom())
		r.sp()
		if typ != "priv" && typ != "shared" && typ != "all" && r.err == "" {
			r.fail("unknown MODSEQ entry type " + strconv.Quote(typ) + " for " + strconv.Quote(entry) + " (use priv, shared or all)")
		}
	}
	n := r.number()
	if n < 0 && r.err == "" {
		r.fail("bad MODSEQ")
	}
	if c.ModSeq == nil {
		c.ModSeq = &imap.SearchCriteriaModSeq{}
	}
	c.ModSeq.ModSeq = max(c.ModSeq.ModSeq, uint64(n))
}

// hasModSeqKey reports whether criteria use the MODSEQ key anywhere
// (then SEARCH results carry the highest MODSEQ, RFC 7162 section 3.1.5).
func hasModSeqKey(c *imap.SearchCriteria) bool {
	if c.ModSeq != nil {
		return true
	}
	for i := range c.Not {
		if hasModSeqKey(&c.Not[i]) {
			return true
		}
	}
	for i := range c.Or {
		if hasModSeqKey(&c.Or[i][0]) || hasModSeqKey(&c.Or[i][1]) {
			return true
		}
	}
	return false
}

// dateKey adds a date key; dates are days, so ON is [day, day+1).
func dateKey(c *imap.SearchCriteria, key string, day time.Time) {
	next := day.AddDate(0, 0, 1)
	switch key {
	case "SINCE":
		c.Since = laterOf(c.Since, day)
	case "BEFORE":
		c.Before = earlierOf(c.Before, day)
	case "ON":
		c.Since, c.Before = laterOf(c.Since, day), earlierOf(c.Before, next)
	case "SENTSINCE":
		c.SentSince = laterOf(c.SentSince, day)
	case "SENTBEFORE":
		c.SentBefore = earlierOf(c.SentBefore, day)
	case "SENTON":
		c.SentSince, c.SentBefore = laterOf(c.SentSince, day), earlierOf(c.SentBefore, next)
	}
}

// laterOf returns the later of two lower bounds (zero: none).
func laterOf(a, b time.Time) time.Time {
	if a.IsZero() || b.After(a) {
		return b
	}
	return a
}

// earlierOf returns the earlier of two upper bounds (zero: none).
func earlierOf(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// seqSet reads a sequence set ("1:4,7,9:*"; "*" is 0) or "$".
func (r *argReader) seqSet() imap.NumSet {
	if r.maybe('$') {
		return imap.SearchRes()
	}
	var set imap.SeqSet
	for r.err == "" {
		a := r.seqNumber()
		b := a
		if r.maybe(':') {
			b = r.seqNumber()
		}
		set = append(set, imap.SeqRange{Start: a, Stop: b})
		if !r.maybe(',') {
			break
		}
	}
	return set
}

// uidSet reads a UID set or "$".
func (r *argReader) uidSet() imap.UIDSet {
	switch set := r.seqSet().(type) {
	case imap.SeqSet:
		uids := make(imap.UIDSet, len(set))
		for i, rg := range set {
			uids[i] = imap.UIDRange{Start: imap.UID(rg.Start), Stop: imap.UID(rg.Stop)}
		}
		return uids
	case imap.UIDSet:
		return set
	}
	return nil
}

// seqNumber reads a sequence number or "*" (0).
func (r *argReader) seqNumber() uint32 {
	if r.maybe('*') {
		return 0
	}
	n := r.number()
	if n <= 0 || n > 1<<32-1 {
		r.fail("bad sequence number")
	}
	return uint32(n)
}
