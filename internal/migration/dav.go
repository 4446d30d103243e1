package migration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/groupware"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/replication"
	"github.com/tenantferry/tenantferry/internal/replication/davsrc"
)

// Groupware onboarding with an IMAP batch (issue 9 item 5): an IMAP
// endpoint with CalDAV/CardDAV URLs makes every pass of its moves also
// import the user's calendars, task lists and address books, with the same
// login as IMAP. Each source collection becomes the target collection of
// the same name (created with its display name, components and colour when
// missing); objects are written byte-exact through the groupware core.
//
// Invariants:
//   - dav_items records, per move, each source object copied: its href, the
//     ETag it was copied at, the target collection and name, and the
//     SHA-256 of the bytes written. The row is written after the object,
//     so a crash between the two only makes the next pass copy the object
//     again under the same name (a replacement, never a duplicate).
//   - A pass copies objects whose ETag differs from the recorded one (or
//     that have none) and deletes on the target the recorded objects the
//     source no longer lists (its collection included), then forgets them.
//   - Verification compares every recorded hash with the target object of
//     that name: a missing or different object makes the score Poor.

// davRow is a dav_items row.
type davRow struct {
	href, kind, collection, name, etag, sha string
}

// davPassResult is what a groupware pass did.
type davPassResult struct {
	copied, deleted, unchanged, skipped int
}

// davPass imports the user's groupware from the endpoint's DAV servers into
// the target mailbox. It does nothing for an endpoint without DAV URLs.
func (s *Service) davPass(ctx context.Context, m *Move, ep *directory.Endpoint, p *imapPlan) (*davPassResult, error) {
	res := &davPassResult{}
	if s.GW == nil || (ep.CalDAVURL == "" && ep.CardDAVURL == "") {
		return res, nil
	}
	acc, err := s.GW.OwnerAccount(ctx, p.target)
	if err != nil {
		return nil, err
	}
	rows, err := s.davRows(ctx, m.ID)
	if err != nil {
		return nil, err
	}
	cl := &davsrc.Client{HTTP: s.HTTP, User: p.user, Password: p.password, MaxObject: s.GW.MaxSize()}
	seen := map[string]bool{}
	for _, src := range []struct {
		url  string
		kind davsrc.Kind
	}{{ep.CalDAVURL, davsrc.Calendar}, {ep.CardDAVURL, davsrc.AddressBook}} {
		if src.url == "" {
			continue
		}
		cols, err := cl.Discover(ctx, src.url, src.kind)
		if err != nil {
			return nil, err
		}
		for _, col := range cols {
			if err := s.davCollection(ctx, m, acc, cl, col, rows, seen, res); err != nil {
				return nil, err
			}
		}
	}
	for href, r := range rows {
		if seen[href] {
			continue
		}
		if err := s.davForget(ctx, m, acc, r); err != nil {
			return nil, err
		}
		res.deleted++
	}
	return res, nil
}

// davCollection copies one source collection's new and changed objects.
func (s *Service) davCollection(ctx context.Context, m *Move, acc *groupware.Account, cl *davsrc.Client, col davsrc.Collection,
	rows map[string]davRow, seen map[string]bool, res *davPassResult) error {
	tc, err := s.davTarget(ctx, acc, col)
	if err != nil {
		return err
	}
	objs, err := cl.Objects(ctx, col)
	if err != nil {
		return err
	}
	for _, o := range objs {
		seen[o.Href] = true
		if r, ok := rows[o.Href]; ok && o.ETag != "" && r.etag == o.ETag && r.collection == tc.Name {
			res.unchanged++
			continue
		}
		data, etag, err := cl.Get(ctx, o)
		if errors.Is(err, davsrc.ErrObjectTooLarge) {
			res.skipped++
			if err := s.davSkip(ctx, m, col, o, int64(s.GW.MaxSize()), err); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		// The endpoint's bandwidth cap counts groupware bytes too.
		if err := replication.WaitBytes(ctx, throttleOf(ctx), len(data)); err != nil {
			return err
		}
		if _, _, err := s.GW.PutObject(ctx, acc, tc, o.Name, data, groupware.Conditions{}); err != nil {
			if e := errs.As(err); e != nil && !e.Temporary() {
				res.skipped++
				if err := s.davSkip(ctx, m, col, o, int64(len(data)), err); err != nil {
					return err
				}
				continue
			}
			return err
		}
		sum := sha256.Sum256(data)
		r := davRow{href: o.Href, kind: tc.Folder.Class, collection: tc.Name, name: o.Name, etag: etag, sha: hex.EncodeToString(sum[:])}
		if err := s.D.Write(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO dav_items (move_id, href, kind, collection, name, etag, sha256) VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (move_id, href) DO UPDATE SET kind = excluded.kind, collection = excluded.collection, name = excluded.name,
				etag = excluded.etag, sha256 = excluded.sha256`, m.ID, r.href, r.kind, r.collection, r.name, r.etag, r.sha)
			if err != nil {
				return err
			}
			// Copied bytes, like a mail pass's: the statistics and the rate.
			_, err = tx.ExecContext(ctx, `UPDATE moves SET bytes_transferred = bytes_transferred + ?, updated_at = ? WHERE id = ?`, len(data), db.Now(), m.ID)
			return err
		}); err != nil {
			return err
		}
		s.countCopied(m.ID, 1, int64(len(data)))
		rows[o.Href] = r
		res.copied++
	}
	return nil
}

// davTarget returns the target collection for a source collection: the
// one of the same name and kind, created when missing.
func (s *Service) davTarget(ctx context.Context, acc *groupware.Account, col davsrc.Collection) (*groupware.Collection, error) {
	kind := groupware.KindCalendar
	if col.Kind == davsrc.AddressBook {
		kind = groupware.KindAddressBook
	}
	c, err := s.GW.Collection(ctx, acc, kind, col.Name)
	if !errors.Is(err, groupware.ErrCollectionNotFound) {
		return c, err
	}
	props := map[string]string{}
	if col.DisplayName != "" {
		props[groupware.PropDisplayName] = col.DisplayName
	}
	if col.Color != "" && kind == groupware.KindCalendar {
		props[groupware.PropCalendarColor] = col.Color
	}
	if len(col.Components) > 0 && kind == groupware.KindCalendar {
		props[groupware.PropComponents] = strings.Join(col.Components, ",")
	}
	return s.GW.CreateCollection(ctx, acc, groupware.NewCollection{Kind: kind, Name: col.Name, Props: props})
}

// davForget deletes on the target an object the source no longer has, and
// its record.
func (s *Service) davForget(ctx context.Context, m *Move, acc *groupware.Account, r davRow) error {
	kind := groupware.KindCalendar
	if r.kind == mailstore.ClassContact {
		kind = groupware.KindAddressBook
	}
	c, err := s.GW.Collection(ctx, acc, kind, r.collection)
	if err == nil {
		err = s.GW.DeleteObject(ctx, acc, c, r.name, groupware.Conditions{})
	}
	if err != nil && !errors.Is(err, groupware.ErrCollectionNotFound) && !errors.Is(err, groupware.ErrObjectNotFound) {
		return err
	}
	return s.D.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM dav_items WHERE move_id = ? AND href = ?`, m.ID, r.href)
		return err
	})
}

// davSkip records a source object the target refused (invalid data, too
// large) as a skipped item of the move.
func (s *Service) davSkip(ctx context.Context, m *Move, col davsrc.Collection, o davsrc.Object, size int64, why error) error {
	return s.D.Write(ctx, func(tx *db.Tx) error {
		class := replication.SkipBadItem
		if errors.Is(why, groupware.ErrObjectTooLarge) {
			class = replication.SkipLargeItem
		}
		r, err := tx.ExecContext(ctx, `INSERT INTO move_skipped (move_id, kind, source_item, folder, subject, item_date, size, reason, at, class)
			VALUES (?, 'groupware', ?, ?, ?, 0, ?, ?, ?, ?) ON CONFLICT (move_id, kind, source_item) DO NOTHING`,
			m.ID, o.Href, col.String(), o.Name, size, why.Error(), db.Now(), string(class))
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n > 0 {
			_, err = tx.ExecContext(ctx, `UPDATE moves SET items_skipped = items_skipped + 1 WHERE id = ?`, m.ID)
		}
		return err
	})
}

// davRows loads a move's dav_items by href.
func (s *Service) davRows(ctx context.Context, moveID string) (map[string]davRow, error) {
	rows, err := s.D.Read().QueryContext(ctx, `SELECT href, kind, collection, name, etag, sha256 FROM dav_items WHERE move_id = ?`, moveID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]davRow{}
	for rows.Next() {
		var r davRow
		if err := rows.Scan(&r.href, &r.kind, &r.collection, &r.name, &r.etag, &r.sha); err != nil {
			return nil, err
		}
		out[r.href] = r
	}
	return out, rows.Err()
}

// verifyDAV compares every recorded object with the target: it returns how
// many are missing or differ, and a summary for the report.
func (s *Service) verifyDAV(ctx context.Context, m *Move, target *directory.Recipient) (int, string, error) {
	rows, err := s.davRows(ctx, m.ID)
	if err != nil || len(rows) == 0 || s.GW == nil {
		return 0, "", err
	}
	acc, err := s.GW.OwnerAccount(ctx, target)
	if err != nil {
		return 0, "", err
	}
	bad := 0
	for _, r := range rows {
		kind := groupware.KindCalendar
		if r.kind == mailstore.ClassContact {
			kind = groupware.KindAddressBook
		}
		c, err := s.GW.Collection(ctx, acc, kind, r.collection)
		var o *groupware.Object
		if err == nil {
			o, err = s.GW.GetObject(ctx, acc, c, r.name)
		}
		if errors.Is(err, groupware.ErrCollectionNotFound) || errors.Is(err, groupware.ErrObjectNotFound) || (err == nil && o.SHA256 != r.sha) {
			bad++
			continue
		}
		if err != nil {
			return 0, "", err
		}
	}
	return bad, fmt.Sprintf("groupware: %d of %d calendar, task and contact objects match the source", len(rows)-bad, len(rows)), nil
}

// davCounts adds a move's imported groupware objects, by folder class, to by.
func davCounts(ctx context.Context, q db.Querier, moveID string, by map[string]int64) (int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT kind, COUNT(*) FROM dav_items WHERE move_id = ? GROUP BY kind`, moveID)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var total int64
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return 0, err
		}
		by[k] += n
		total += n
	}
	return total, rows.Err()
}

// davPassLogged runs davPass and logs what it did in the move's report.
func (s *Service) davPassLogged(ctx context.Context, m *Move, ep *directory.Endpoint, p *imapPlan) error {
	res, err := s.davPass(ctx, m, ep, p)
	if err != nil || (res.copied == 0 && res.deleted == 0 && res.skipped == 0) {
		return err
	}
	return s.D.Write(ctx, func(tx *db.Tx) error {
		return logMove(ctx, tx, m.ID, "info", fmt.Sprintf("groupware: %d calendar, task and contact objects copied, %d deleted, %d unchanged, %d skipped",
			res.copied, res.deleted, res.unchanged, res.skipped))
	})
}

// judgeDAV folds the groupware verification into a completion's score: a
// missing or different object makes it Poor.
func (s *Service) judgeDAV(ctx context.Context, m *Move, score, report string) (string, string, error) {
	target, err := s.Dir.GetRecipient(ctx, m.TenantID, m.TargetRecipientID)
	if err != nil {
		return "", "", err
	}
	bad, summary, err := s.verifyDAV(ctx, m, target)
	if err != nil || summary == "" {
		return score, report, err
	}
	if bad > 0 {
		score = ScorePoor
	}
	return score, report + "; " + summary, nil
}
