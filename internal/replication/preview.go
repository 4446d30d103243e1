package replication

import (
	"context"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
)

// FolderPreview is one source folder in a dry run: where it goes and
// what a move copies from it under its filter.
type FolderPreview struct {
	// Path is the source folder's path, TargetPath where its items go
	// (after the filter's mappings).
	Path, TargetPath string
	Items, Bytes     int64
}

// PreviewItem is an item a dry run weighs: its folder id, internal date
// and size.
type PreviewItem struct {
	Folder string
	Date   time.Time
	Size   int64
}

// Preview weighs items against the filter (nil: everything), per selected
// folder of live (the source's live folders, listed in order), and writes
// nothing.
func (f *Filter) Preview(live []FolderInfo, items []PreviewItem) ([]FolderPreview, error) {
	selected := f.ItemFolders(live)
	paths, err := f.targetPaths(live)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]FolderInfo, len(live))
	for _, fi := range live {
		byID[fi.Id] = fi
	}
	count, size := map[string]int64{}, map[string]int64{}
	for _, it := range items {
		if selected[it.Folder] && f.DateOK(it.Date) {
			count[it.Folder]++
			size[it.Folder] += it.Size
		}
	}
	out := []FolderPreview{}
	for _, fi := range live {
		if !selected[fi.Id] {
			continue
		}
		p := folderPath(byID, fi)
		tp := p
		if m, ok := paths[fi.Id]; ok {
			tp = m
		}
		out = append(out, FolderPreview{Path: p, TargetPath: tp, Items: count[fi.Id], Bytes: size[fi.Id]})
	}
	return out, nil
}

// PreviewSource lists a source mailbox through its feeds (folders, then
// every live item up to its current MODSEQ) and previews it under f.
func PreviewSource(ctx context.Context, src Source, guid string, f *Filter, pageSize int) ([]FolderPreview, error) {
	var items []PreviewItem
	_, live, err := listSource(ctx, src, guid, pageSize, func([]FolderInfo) {}, func(it ItemInfo) {
		items = append(items, PreviewItem{Folder: it.Folder, Date: db.Time(it.InternalDate), Size: it.Size})
	})
	if err != nil {
		return nil, err
	}
	return f.Preview(live, items)
}
