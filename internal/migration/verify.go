package migration

import (
	"context"
	"fmt"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// verify compares the source and target content of a move, folder by
// folder (item counts and content-hash multisets), and scores it:
//   - Perfect: every folder matches and nothing was skipped;
//   - Good: differences are exactly the skipped items, at most 0.1% of them;
//   - Investigate: differences are exactly the skipped items, more of them
//     (up to 5%); completing needs --approve-skipped-items;
//   - Poor: an unexplained difference, or more than 5% skipped; completion
//     is refused.
//
// A batch with a filter is compared with its selection, listed from the
// source's item feed, rather than with the whole source.
func (s *Service) verify(ctx context.Context, b *Batch, m *Move, client replication.NativeSource, kinds []mailboxKind) (string, string, error) {
	src := client.Manifest
	if !b.Filter.Empty() {
		src = func(ctx context.Context, guid string) (*replication.ManifestReply, error) {
			return replication.SelectionManifest(ctx, client, guid, b.Filter, s.Engine.ListPageSize())
		}
	}
	return s.verifyWith(ctx, m, kinds, src, func(ctx context.Context, mailboxID int64) (*replication.ManifestReply, error) {
		return replication.BuildManifest(ctx, s.Store, mailboxID, "", true)
	})
}

// manifestFunc returns the manifest of a source mailbox by GUID.
type manifestFunc func(ctx context.Context, guid string) (*replication.ManifestReply, error)

// verifyWith is verify with the source's manifest from src and the
// target's (folders named by origin) from tgt.
func (s *Service) verifyWith(ctx context.Context, m *Move, kinds []mailboxKind, src manifestFunc,
	tgt func(ctx context.Context, mailboxID int64) (*replication.ManifestReply, error)) (string, string, error) {
	var total, unexplained, differing int64
	skippedByFolder, skipped, err := s.skippedCounts(ctx, m.ID)
	if err != nil {
		return "", "", err
	}
	for _, k := range kinds {
		sm, err := src(ctx, k.guid)
		if err != nil {
			return "", "", err
		}
		mb, err := s.Store.Mailbox(ctx, m.TenantID, k.guid)
		if err != nil {
			return "", "", err
		}
		tm, err := tgt(ctx, mb.ID)
		if err != nil {
			return "", "", err
		}
		tf := map[string]replication.FolderManifest{}
		for _, f := range tm.Folders {
			tf[f.Folder] = f
		}
		for _, f := range sm.Folders {
			total += f.Count
			t, ok := tf[f.Folder]
			delete(tf, f.Folder)
			if ok && t.Digest == f.Digest && t.Count == f.Count {
				continue
			}
			differing++
			missing := f.Count - t.Count
			// Skipped items are recorded under the target folder's path
			// (which an IMAP move's adopted folders do not share with the
			// source).
			path := f.Path
			if ok {
				path = t.Path
			}
			if missing < 0 || (missing > 0 && missing > skippedByFolder[string(k.kind)+"/"+path]) {
				unexplained += abs(missing)
				continue
			}
			if missing == 0 {
				unexplained++ // same count, other content
				continue
			}
			// Fewer items, all accounted for by skipped items: the digest
			// cannot match, the count is checked above.
		}
		for _, f := range tf {
			if f.Count > 0 {
				differing++
				unexplained += f.Count // items on the target the source lacks
			}
		}
	}
	report := fmt.Sprintf("%d items in %d mailbox(es), %d skipped, %d folder(s) differing, %d unexplained difference(s)",
		total, len(kinds), skipped, differing, unexplained)
	switch {
	case unexplained > 0:
		return ScorePoor, report, nil
	case skipped == 0:
		return ScorePerfect, report, nil
	case total > 0 && skipped*1000 <= total:
		return ScoreGood, report, nil
	case total > 0 && skipped*20 <= total:
		return ScoreInvestigate, report, nil
	}
	return ScorePoor, report, nil
}

// skippedCounts counts a move's skipped items per "kind/folder path".
func (s *Service) skippedCounts(ctx context.Context, moveID string) (map[string]int64, int64, error) {
	rows, err := s.D.Read().QueryContext(ctx, `SELECT kind, folder, COUNT(*) FROM move_skipped WHERE move_id = ? GROUP BY kind, folder`, moveID)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := map[string]int64{}
	var total int64
	for rows.Next() {
		var kind, folder string
		var n int64
		if err := rows.Scan(&kind, &folder, &n); err != nil {
			return nil, 0, err
		}
		out[kind+"/"+folder] += n
		total += n
	}
	return out, total, rows.Err()
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// judge records a verification's score in the move and its log, and returns
// the error that blocks the completion when the score does not allow it
// (Poor; Investigate without --approve-skipped-items), else nil. poorHint is
// the remedy shown for a Poor score.
func (s *Service) judge(ctx context.Context, b *Batch, m *Move, score, report, poorHint string) (block *errs.Error, err error) {
	if err := s.D.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE moves SET consistency = ? WHERE id = ?`, score, m.ID)
		if err == nil {
			err = logMove(ctx, tx, m.ID, "info", "verification: DataConsistencyScore "+score+"; "+report)
		}
		return err
	}); err != nil {
		return nil, err
	}
	cur, err := s.getBatchByID(ctx, s.D.Read(), b.ID)
	if err != nil {
		return nil, err
	}
	mv, err := s.getMove(ctx, s.D.Read(), m.ID)
	if err != nil {
		return nil, err
	}
	if score != ScorePoor && (score != ScoreInvestigate || cur.ApproveSkipped || mv.ApproveSkipped) {
		return nil, nil
	}
	code, hint := "DataConsistencyPoor", poorHint
	if score == ScoreInvestigate {
		code, hint = "SkippedItemsNeedApproval", "review the skipped items, then run 'tenantferry migrationuser approve-skipped-items "+m.Email+
			"' (or 'tenantferry batch complete "+b.Name+" --approve-skipped-items' for the whole batch)"
	}
	return errs.Conflictf(code, "completion of %s stopped: DataConsistencyScore is %s (%s)", m.Email, score, report).WithHint("%s", hint), nil
}
