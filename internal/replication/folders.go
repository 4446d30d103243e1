package replication

import (
	"context"
	"sort"
	"strings"

	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// folderMap maps source folder ids to target folders (by origin).
type folderMap struct {
	byOrigin map[string]*mailstore.Folder
}

func (p *pass) loadFolders(ctx context.Context) error {
	fs, err := p.e.Store.ListFolders(ctx, p.j.MailboxID, false)
	if err != nil {
		return err
	}
	m := &folderMap{byOrigin: map[string]*mailstore.Folder{}}
	for i := range fs {
		if fs[i].Origin != "" && !fs[i].Deleted {
			m.byOrigin[fs[i].Origin] = &fs[i]
		}
	}
	p.folders = m
	return nil
}

// syncFolders applies source folder creations, renames and moves (deletions
// wait for the end of the pass, after items moved out of them).
func (p *pass) syncFolders(ctx context.Context) error {
	if err := p.loadFolders(ctx); err != nil {
		return err
	}
	fr, err := p.j.Source.Folders(ctx, p.j.SourceGUID, p.w.FolderState)
	if err != nil {
		return err
	}
	var live []FolderInfo
	p.deleted = p.deleted[:0]
	for _, f := range fr.Folders {
		if f.Deleted {
			if f.ModSeq <= p.w.PassUpto {
				p.deleted = append(p.deleted, f)
			}
			continue
		}
		live = append(live, f)
	}
	return p.applyFolders(ctx, live)
}

// applyFolders creates or renames target folders so that each source folder
// has a target folder at the same path. Parents go first; a name taken by a
// folder that is itself being renamed is freed by a temporary name.
func (p *pass) applyFolders(ctx context.Context, live []FolderInfo) error {
	pending := append([]FolderInfo(nil), live...)
	renamedAside := map[string]bool{}
	for round := 0; len(pending) > 0; round++ {
		if round > len(live)+2 {
			return errs.Internalf(nil, "folder hierarchy of %s cannot be applied (cycle?)", p.j.SourceGUID)
		}
		var next []FolderInfo
		progress := false
		for _, f := range pending {
			parentPath := ""
			if f.ParentId != "" {
				par, ok := p.folders.byOrigin[f.ParentId]
				if !ok {
					next = append(next, f) // parent not there yet
					continue
				}
				parentPath = par.Path + mailstore.Delimiter
			}
			want := parentPath + f.Name
			cur, exists := p.folders.byOrigin[f.Id]
			if exists && cur.Path == want {
				progress = true
				continue
			}
			var nf *mailstore.Folder
			var err error
			if exists {
				nf, err = p.e.Store.RenameFolder(ctx, p.j.MailboxID, cur.ID, want)
			} else {
				nf, err = p.e.Store.CreateFolder(ctx, p.j.MailboxID, want, mailstore.FolderOptions{Class: f.Class, SpecialUse: f.SpecialUse, Origin: f.Id})
			}
			if errs.Is(err, "FolderExists") && !renamedAside[want] {
				// Another target folder holds the name: if it is being renamed
				// too, move it aside and retry in the next round.
				if holder, herr := p.e.Store.FolderByPath(ctx, p.j.MailboxID, want); herr == nil && holder.Origin != "" && holder.SpecialUse != mailstore.UseInbox {
					if _, herr := p.e.Store.RenameFolder(ctx, p.j.MailboxID, holder.ID, "~tenantferry-"+holder.StableID); herr == nil {
						renamedAside[want] = true
						if err := p.loadFolders(ctx); err != nil {
							return err
						}
						next = append(next, f)
						progress = true
						continue
					}
				}
			}
			if err != nil {
				return err
			}
			progress = true
			if exists && !strings.EqualFold(cur.Path, want) {
				// A rename moves the subtree: reload all paths.
				if err := p.loadFolders(ctx); err != nil {
					return err
				}
			} else {
				p.folders.byOrigin[f.Id] = nf
			}
		}
		if !progress {
			// Parents that never appear are deleted or unknown: give up on
			// those folders (their items are reported missing, not lost).
			for _, f := range next {
				p.e.Log.Warn("replication: source folder without a parent skipped", "folder", f.Name, "id", f.Id)
			}
			return nil
		}
		pending = next
	}
	return nil
}

// applyFolderDeletes deletes target folders whose source folders were
// deleted, deepest first.
func (p *pass) applyFolderDeletes(ctx context.Context) error {
	if len(p.deleted) == 0 {
		return nil
	}
	if err := p.loadFolders(ctx); err != nil {
		return err
	}
	var doomed []*mailstore.Folder
	for _, f := range p.deleted {
		if t, ok := p.folders.byOrigin[f.Id]; ok {
			doomed = append(doomed, t)
		}
	}
	sort.Slice(doomed, func(i, j int) bool {
		return strings.Count(doomed[i].Path, mailstore.Delimiter) > strings.Count(doomed[j].Path, mailstore.Delimiter)
	})
	for _, t := range doomed {
		if err := p.e.Store.DeleteFolder(ctx, p.j.MailboxID, t.ID); err != nil && !errs.Is(err, "FolderNotFound") {
			return err
		}
	}
	return p.loadFolders(ctx)
}
