package replication

import (
	"context"
	"errors"
	"maps"
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
	if p.j.Filter.needsAllFolders() {
		// Rules apply to paths, which need every folder, not only the
		// changed ones.
		all, err := liveFolders(ctx, p.j.Source, p.j.SourceGUID)
		if err != nil {
			return err
		}
		if p.j.Filter.hasFolderRules() {
			p.sel = p.j.Filter.selectFolders(all)
		}
		if p.paths, err = p.j.Filter.targetPaths(all); err != nil {
			return err
		}
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
		if p.sel == nil || p.sel.create[f.Id] {
			live = append(live, f)
		}
	}
	return p.applyFolders(ctx, live)
}

// applyFolders creates or renames target folders so that each source folder
// has a target folder at the same path. Parents go first; a name taken by a
// folder that is itself being renamed is freed by a temporary name.
func (p *pass) applyFolders(ctx context.Context, live []FolderInfo) error {
	if err := p.createNew(ctx, live); err != nil {
		return err
	}
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
			if mapped, ok := p.paths[f.Id]; ok {
				want = mapped
			}
			cur, exists := p.folders.byOrigin[f.Id]
			if exists && (cur.Path == want || p.keepsPlace(cur, f)) {
				if err := p.syncProps(ctx, cur, f); err != nil {
					return err
				}
				progress = true
				continue
			}
			if !exists && p.j.AdoptFolders {
				nf, err := p.adopt(ctx, f, want)
				if err != nil {
					return err
				}
				if nf != nil {
					p.folders.byOrigin[f.Id] = nf
					progress = true
					continue
				}
			}
			nf, err := p.placeFolder(ctx, f, cur, want)
			if errors.Is(err, mailstore.ErrFolderExists) && p.j.AdoptFolders {
				// A local folder holds the name: the source folder gets
				// a name of its own next to it.
				if holder, herr := p.e.Store.FolderByPath(ctx, p.j.MailboxID, want); herr == nil && holder.Origin == "" {
					nf, err = p.placeFolder(ctx, f, cur, want+importedSuffix)
				}
			}
			if errors.Is(err, mailstore.ErrFolderExists) && !renamedAside[want] {
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
			if err := p.syncProps(ctx, nf, f); err != nil {
				return err
			}
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

// createNew creates the target folders of the source folders that have
// none yet, parents first, in one transaction (a new mailbox's dozen
// folders are one commit, not a dozen). It changes nothing when any of
// them cannot be created as asked — a name another folder holds, a special
// use taken — and leaves them all to applyFolders' folder-by-folder
// rounds, which resolve those cases; so does a live target (adopt mode).
func (p *pass) createNew(ctx context.Context, live []FolderInfo) error {
	if p.j.AdoptFolders {
		return nil
	}
	var fresh []FolderInfo
	for _, f := range live {
		if _, ok := p.folders.byOrigin[f.Id]; !ok {
			fresh = append(fresh, f)
		}
	}
	if len(fresh) < 2 {
		return nil
	}
	created := map[string]*mailstore.Folder{}
	err := p.e.Store.CreateFolders(ctx, p.j.MailboxID, func(b *mailstore.FolderBatch) error {
		clear(created) // a retried transaction starts over
		for pending := fresh; len(pending) > 0; {
			var next []FolderInfo
			for _, f := range pending {
				var par *mailstore.Folder
				if f.ParentId != "" {
					var ok bool
					if par, ok = created[f.ParentId]; !ok {
						par, ok = p.folders.byOrigin[f.ParentId]
					}
					if !ok {
						next = append(next, f) // parent not there yet
						continue
					}
				}
				opts := mailstore.FolderOptions{Class: f.Class, SpecialUse: f.SpecialUse, Origin: f.Id, Props: f.Props}
				var nf *mailstore.Folder
				var err error
				if mapped, ok := p.paths[f.Id]; ok {
					nf, err = b.Create(mapped, opts)
				} else {
					nf, err = b.CreateIn(par, f.Name, opts)
				}
				if err != nil {
					return err
				}
				created[f.Id] = nf
			}
			if len(next) == len(pending) {
				break // parents that never appear: applyFolders reports them
			}
			pending = next
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return nil // nothing was created: applyFolders goes folder by folder
	}
	maps.Copy(p.folders.byOrigin, created)
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
		if p.j.AdoptFolders {
			released, err := p.release(ctx, t)
			if err != nil {
				return err
			}
			if released {
				continue
			}
		}
		if err := p.e.Store.DeleteFolder(ctx, p.j.MailboxID, t.ID); err != nil && !errors.Is(err, mailstore.ErrFolderNotFound) {
			return err
		}
	}
	return p.loadFolders(ctx)
}

// syncProps gives a target folder the source folder's collection
// properties (a calendar's display name, colour, ...) when they differ.
func (p *pass) syncProps(ctx context.Context, t *mailstore.Folder, f FolderInfo) error {
	if t == nil || maps.Equal(t.Props, f.Props) {
		return nil
	}
	set := map[string]string{}
	for k := range t.Props {
		set[k] = "" // removed unless the source still has it
	}
	for k, v := range f.Props {
		set[k] = v
	}
	nf, err := p.e.Store.SetFolderProps(ctx, p.j.MailboxID, t.ID, set)
	if err != nil {
		return err
	}
	t.Props = nf.Props
	return nil
}

// importedSuffix is added to the name of a source folder whose place in a
// live target mailbox a local folder holds.
const importedSuffix = " (imported)"

// placeFolder creates the target folder of a source folder at path, or
// moves the existing one (cur) there. In adopt mode a special use another
// target folder already has is not claimed again.
func (p *pass) placeFolder(ctx context.Context, f FolderInfo, cur *mailstore.Folder, path string) (*mailstore.Folder, error) {
	if cur != nil {
		return p.e.Store.RenameFolder(ctx, p.j.MailboxID, cur.ID, path)
	}
	opts := mailstore.FolderOptions{Class: f.Class, SpecialUse: f.SpecialUse, Origin: f.Id, Props: f.Props}
	if p.j.AdoptFolders && opts.SpecialUse != "" {
		if _, err := p.e.Store.FolderBySpecialUse(ctx, p.j.MailboxID, opts.SpecialUse); err == nil {
			opts.SpecialUse = ""
		} else if !errors.Is(err, mailstore.ErrFolderNotFound) {
			return nil, err
		}
	}
	return p.e.Store.CreateFolder(ctx, p.j.MailboxID, path, opts)
}

// keepsPlace reports whether, in adopt mode, a target folder stays where it
// is whatever the source calls it: an adopted special-use folder keeps the
// target's name (the user's "Sent Items" stays "Sent Items").
func (p *pass) keepsPlace(cur *mailstore.Folder, f FolderInfo) bool {
	return p.j.AdoptFolders && cur.SpecialUse != "" && cur.SpecialUse == f.SpecialUse
}

// adopt finds the existing target folder a new source folder maps to in
// adopt mode — the folder with the same special use, else a local folder
// of the same class at the same path — and records the source folder as
// its origin. It returns nil when there is none.
func (p *pass) adopt(ctx context.Context, f FolderInfo, want string) (*mailstore.Folder, error) {
	var t *mailstore.Folder
	if f.SpecialUse != "" {
		x, err := p.e.Store.FolderBySpecialUse(ctx, p.j.MailboxID, f.SpecialUse)
		switch {
		case err == nil && x.Origin == "":
			t = x
		case err != nil && !errors.Is(err, mailstore.ErrFolderNotFound):
			return nil, err
		}
	}
	if t == nil {
		x, err := p.e.Store.FolderByPath(ctx, p.j.MailboxID, want)
		switch {
		case err == nil && x.Origin == "" && x.Class == classOr(f.Class) && (x.SpecialUse == "" || x.SpecialUse == f.SpecialUse):
			t = x
		case err != nil && !errors.Is(err, mailstore.ErrFolderNotFound):
			return nil, err
		}
	}
	if t == nil {
		return nil, nil
	}
	p.e.Log.Info("replication: target folder adopted for a source folder", "folder", t.Path, "source", f.Name, "origin", f.Id)
	return p.e.Store.SetFolderOrigin(ctx, p.j.MailboxID, t.ID, f.Id)
}

func classOr(c string) string {
	if c == "" {
		return mailstore.ClassNote
	}
	return c
}

// release gives a target folder whose source folder was deleted back to
// the user, in adopt mode, instead of deleting it: when it has a special
// use, still holds items (local ones: the replicated ones were deleted
// before) or has subfolders. It reports whether it released the folder.
func (p *pass) release(ctx context.Context, t *mailstore.Folder) (bool, error) {
	n, err := p.e.Store.FolderCounts(ctx, p.j.MailboxID, t.ID)
	if err != nil {
		if errors.Is(err, mailstore.ErrFolderNotFound) {
			return true, nil
		}
		return false, err
	}
	fs, err := p.e.Store.ListFolders(ctx, p.j.MailboxID, false)
	if err != nil {
		return false, err
	}
	children := false
	for _, g := range fs {
		children = children || g.ParentID == t.StableID
	}
	if t.SpecialUse == "" && n.Messages == 0 && !children {
		return false, nil
	}
	_, err = p.e.Store.SetFolderOrigin(ctx, p.j.MailboxID, t.ID, "")
	if errors.Is(err, mailstore.ErrFolderNotFound) {
		err = nil
	}
	return true, err
}
