package replication

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// Filter selects the part of a source mailbox a move copies: items whose
// internal date is in [Since, Before) (a zero bound is open), in the
// folders selected by IncludeFolders and ExcludeFolders. A folder rule is
// a glob (path.Match, case-insensitive) on the folder's source path
// ("Projects/*"), or a special use ("\Junk"); a rule selects the folder it
// matches and its whole subtree. With IncludeFolders only the included
// subtrees are copied (their parent folders are created, empty); an
// excluded subtree is never copied, even inside an included one.
//
// MapFolders renames folders on the way: each rule is "REGEX -> REPLACEMENT"
// (Go regexp syntax, $1 for a group) applied to the source path with "/"
// between levels; the first rule that matches gives the target path
// (e.g. `^INBOX/(.*)$ -> $1` lifts a Dovecot INBOX's subfolders to the
// top). Missing parents of a mapped path are created.
//
// Items outside the selection are not skipped items: they are not part of
// the move, and verification compares the target with the selection.
type Filter struct {
	Since, Before                  time.Time
	IncludeFolders, ExcludeFolders []string
	MapFolders                     []string `json:",omitempty"`
}

// mapArrow separates a MapFolders rule's pattern from its replacement.
const mapArrow = " -> "

// mapRule is a compiled MapFolders rule.
type mapRule struct {
	re   *regexp.Regexp
	repl string
}

// mapRules compiles the MapFolders rules.
func (f *Filter) mapRules() ([]mapRule, error) {
	var out []mapRule
	for _, r := range f.MapFolders {
		pat, repl, ok := strings.Cut(r, mapArrow)
		if !ok || strings.TrimSpace(pat) == "" {
			return nil, ErrInvalidFilter.Newf("folder mapping %q is not of the form \"REGEX -> REPLACEMENT\"", r).WithObject(r).
				WithHint(`write e.g. "^INBOX/(.*)$ -> $1" (spaces around ->)`)
		}
		re, err := regexp.Compile(strings.TrimSpace(pat))
		if err != nil {
			return nil, ErrInvalidFilter.Newf("folder mapping %q: the pattern is not a valid regular expression: %v", r, err).WithObject(r).
				WithHint("use Go regexp syntax (RE2), e.g. ^Old/(.*)$")
		}
		out = append(out, mapRule{re: re, repl: strings.TrimSpace(repl)})
	}
	return out, nil
}

// mapPath applies the first matching rule to a source path; the result
// is cleaned of empty levels, and a rule that maps to nothing leaves the
// path as it is.
func mapPath(rules []mapRule, p string) string {
	for _, r := range rules {
		if !r.re.MatchString(p) {
			continue
		}
		var parts []string
		for _, x := range strings.Split(r.re.ReplaceAllString(p, r.repl), mailstore.Delimiter) {
			if x = strings.TrimSpace(x); x != "" {
				parts = append(parts, x)
			}
		}
		if len(parts) == 0 {
			return p
		}
		return strings.Join(parts, mailstore.Delimiter)
	}
	return p
}

// targetPaths maps every live source folder to its target path under the
// MapFolders rules (nil without rules).
func (f *Filter) targetPaths(all []FolderInfo) (map[string]string, error) {
	if f == nil || len(f.MapFolders) == 0 {
		return nil, nil
	}
	rules, err := f.mapRules()
	if err != nil {
		return nil, err
	}
	byID := make(map[string]FolderInfo, len(all))
	for _, fi := range all {
		byID[fi.Id] = fi
	}
	out := make(map[string]string, len(all))
	for _, fi := range all {
		out[fi.Id] = mapPath(rules, folderPath(byID, fi))
	}
	return out, nil
}

// ErrInvalidFilter: a folder rule that is not a valid glob, or a date
// range that is empty.
var ErrInvalidFilter = errs.Sentinel(errs.Invalid, "InvalidFilter")

// Empty reports whether f selects everything.
func (f *Filter) Empty() bool {
	return f == nil || (f.Since.IsZero() && f.Before.IsZero() && len(f.IncludeFolders) == 0 && len(f.ExcludeFolders) == 0 && len(f.MapFolders) == 0)
}

// Check validates the rules.
func (f *Filter) Check() error {
	if f == nil {
		return nil
	}
	if !f.Since.IsZero() && !f.Before.IsZero() && !f.Since.Before(f.Before) {
		return ErrInvalidFilter.Newf("the date range is empty: Since %s is not before Before %s", f.Since.Format(time.RFC3339), f.Before.Format(time.RFC3339)).
			WithObject("Since").WithHint("pass --since earlier than --before")
	}
	if _, err := f.mapRules(); err != nil {
		return err
	}
	for _, rules := range [][]string{f.IncludeFolders, f.ExcludeFolders} {
		for _, r := range rules {
			if strings.TrimSpace(r) == "" {
				return ErrInvalidFilter.Newf("an empty folder rule").WithHint("give a folder path glob such as Projects/* or a special use such as \\Junk")
			}
			if strings.HasPrefix(r, `\`) {
				continue
			}
			if _, err := path.Match(strings.ToLower(r), ""); err != nil {
				return ErrInvalidFilter.Newf("folder rule %q is not a valid glob: %v", r, err).WithObject(r).
					WithHint("use * and ? for any characters and [...] for a class, e.g. Archive/20??")
			}
		}
	}
	return nil
}

// DateOK reports whether an internal date is in the range.
func (f *Filter) DateOK(t time.Time) bool {
	if f == nil {
		return true
	}
	return (f.Since.IsZero() || !t.Before(f.Since)) && (f.Before.IsZero() || t.Before(f.Before))
}

// needsAllFolders reports whether a pass needs the whole folder list:
// for folder rules or mappings, which work on paths.
func (f *Filter) needsAllFolders() bool {
	return f.hasFolderRules() || (f != nil && len(f.MapFolders) > 0)
}

// hasFolderRules reports whether the filter selects folders.
func (f *Filter) hasFolderRules() bool {
	return f != nil && (len(f.IncludeFolders) > 0 || len(f.ExcludeFolders) > 0)
}

// matches reports whether a rule matches a folder (its path or use).
func matches(rules []string, folderPath, use string) bool {
	for _, r := range rules {
		if strings.HasPrefix(r, `\`) {
			if use != "" && strings.EqualFold(r, use) {
				return true
			}
			continue
		}
		if ok, _ := path.Match(strings.ToLower(r), strings.ToLower(folderPath)); ok {
			return true
		}
	}
	return false
}

// selection is a Filter's verdict on a source's folders, by folder id:
// items are copied from the folders in items; create also holds their
// ancestors, created to keep the hierarchy.
type selection struct {
	items, create map[string]bool
	all           map[string]bool // every live folder the rules saw
}

// known reports whether the rules saw the folder.
func (s *selection) known(id string) bool { return s.all[id] }

// selectFolders applies the filter's folder rules to all live folders.
func (f *Filter) selectFolders(all []FolderInfo) *selection {
	byID := make(map[string]FolderInfo, len(all))
	for _, fi := range all {
		byID[fi.Id] = fi
	}
	sel := &selection{items: map[string]bool{}, create: map[string]bool{}, all: map[string]bool{}}
	for _, fi := range all {
		sel.all[fi.Id] = true
		included, excluded := len(f.IncludeFolders) == 0, false
		// Walk up: a rule on any ancestor applies to the subtree.
		seen := map[string]bool{}
		for cur, ok := fi, true; ok && !seen[cur.Id]; cur, ok = byID[cur.ParentId] {
			seen[cur.Id] = true
			p := folderPath(byID, cur)
			if matches(f.ExcludeFolders, p, cur.SpecialUse) {
				excluded = true
			}
			if matches(f.IncludeFolders, p, cur.SpecialUse) {
				included = true
			}
		}
		if !included || excluded {
			continue
		}
		sel.items[fi.Id] = true
		for cur, ok := fi, true; ok && !sel.create[cur.Id]; cur, ok = byID[cur.ParentId] {
			sel.create[cur.Id] = true
		}
	}
	return sel
}

// ItemFolders returns the ids of the folders (of all, the live folders
// of a source) whose items the filter selects.
func (f *Filter) ItemFolders(all []FolderInfo) map[string]bool {
	if !f.hasFolderRules() {
		out := map[string]bool{}
		for _, fi := range all {
			out[fi.Id] = true
		}
		return out
	}
	return f.selectFolders(all).items
}

// folderPath is a source folder's path from its parents' names.
func folderPath(byID map[string]FolderInfo, fi FolderInfo) string {
	parts := []string{fi.Name}
	seen := map[string]bool{fi.Id: true}
	for p, ok := byID[fi.ParentId]; ok && !seen[p.Id]; p, ok = byID[p.ParentId] {
		seen[p.Id] = true
		parts = append(parts, p.Name)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, mailstore.Delimiter)
}

// liveFolders lists all live folders of a source mailbox.
func liveFolders(ctx context.Context, src Source, guid string) ([]FolderInfo, error) {
	fr, err := src.Folders(ctx, guid, 0)
	if err != nil {
		return nil, err
	}
	var live []FolderInfo
	for _, f := range fr.Folders {
		if !f.Deleted {
			live = append(live, f)
		}
	}
	return live, nil
}

// SelectionManifest summarises what a filtered move copies from a source
// mailbox that reports content hashes (the native connector): per
// selected folder, the count, bytes and digest of the items in the date
// range, listed from the source's item feed. Verification compares the
// target with it instead of the whole source's Manifest.
func SelectionManifest(ctx context.Context, src Source, guid string, f *Filter, pageSize int) (*ManifestReply, error) {
	var items map[string]bool
	hashes, sizes := map[string][]string{}, map[string]int64{}
	high, live, err := listSource(ctx, src, guid, pageSize, func(live []FolderInfo) { items = f.ItemFolders(live) }, func(it ItemInfo) {
		if items[it.Folder] && f.DateOK(db.Time(it.InternalDate)) {
			hashes[it.Folder] = append(hashes[it.Folder], strings.ToLower(it.Sha256))
			sizes[it.Folder] += it.Size
		}
	})
	if err != nil {
		return nil, err
	}
	byID := map[string]FolderInfo{}
	for _, fi := range live {
		byID[fi.Id] = fi
	}
	out := &ManifestReply{HighestModSeq: high, Folders: []FolderManifest{}}
	for _, fi := range live {
		if !items[fi.Id] {
			continue
		}
		hs := hashes[fi.Id]
		out.Folders = append(out.Folders, FolderManifest{Folder: fi.Id, Path: folderPath(byID, fi), Count: int64(len(hs)), Bytes: sizes[fi.Id], Digest: Digest(hs)})
	}
	return out, nil
}

// Digest is a folder's manifest digest: the hex SHA-256 of the sorted
// item hashes, one per line (hs is sorted in place).
func Digest(hs []string) string {
	sort.Strings(hs)
	h := sha256.New()
	for _, x := range hs {
		io.WriteString(h, x+"\n")
	}
	return hex.EncodeToString(h.Sum(nil))
}

// listSource lists a source mailbox through its feeds: its live folders
// (given to folders first), then every live item up to the MODSEQ it has
// now (given to item); it returns that MODSEQ and the folders.
func listSource(ctx context.Context, src Source, guid string, pageSize int, folders func([]FolderInfo), item func(ItemInfo)) (int64, []FolderInfo, error) {
	st, err := src.State(ctx, guid)
	if err != nil {
		return 0, nil, err
	}
	live, err := liveFolders(ctx, src, guid)
	if err != nil {
		return 0, nil, err
	}
	folders(live)
	for after := (Cursor{}); ; {
		r, err := src.Items(ctx, guid, after, st.HighestModSeq, pageSize, 0)
		if err != nil {
			return 0, nil, err
		}
		for _, it := range r.Items {
			item(it)
		}
		if !r.More || len(r.Items) == 0 {
			return st.HighestModSeq, live, nil
		}
		after = r.Next
	}
}
