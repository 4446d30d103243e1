package server

import (
	"context"
	"os"
	"path/filepath"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// setupStore opens the blob store and the mailbox store.
func (s *Server) setupStore() error {
	backend := blobstore.Pack
	if s.Cfg.BlobBackend == "db" {
		backend = blobstore.Database
	}
	bs, err := blobstore.New(s.DB, blobstore.Options{Backend: backend, Dir: filepath.Join(s.Cfg.DataDir, "blobs")})
	if err != nil {
		return err
	}
	s.closers = append(s.closers, func(context.Context) error { return bs.Close() })
	s.Blobs = bs
	s.Store = mailstore.New(s.DB, bs)
	s.Admin.Content = contentAdapter{st: s.Store, tmpDir: filepath.Join(s.Cfg.DataDir, "tmp"), maxImport: s.Cfg.MaxImportSize}
	if err := os.MkdirAll(filepath.Join(s.Cfg.DataDir, "tmp"), 0o700); err != nil {
		return err
	}
	return nil
}

// contentAdapter gives the admin core the mailbox store operations it needs.
type contentAdapter struct {
	st        *mailstore.Store
	tmpDir    string // for unpacking uploads
	maxImport int64  // --max-import-size (0: DefaultMaxImportSize)
	// quota, when set, returns how many more bytes the mailbox may hold
	// (-1: no quota); imports are bounded by it too. Quotas (issue 10)
	// plug in here.
	quota func(ctx context.Context, tenantID, guid string) (int64, error)
}

// Provision creates a mailbox's content with the default folders; an
// existing mailbox is left alone.
func (c contentAdapter) Provision(ctx context.Context, tenantID, guid string, archive bool) error {
	kind := mailstore.KindPrimary
	if archive {
		kind = mailstore.KindArchive
	}
	_, err := c.st.EnsureMailbox(ctx, tenantID, guid, kind)
	return err
}

// Stats returns folder statistics of a mailbox.
func (c contentAdapter) Stats(ctx context.Context, tenantID, guid string) (any, error) {
	mb, err := c.st.Mailbox(ctx, tenantID, guid)
	if err != nil {
		return nil, err
	}
	st, err := c.st.Stats(ctx, mb.ID)
	if err != nil {
		return nil, err
	}
	type folderView struct {
		Name, FolderPath, FolderClass, SpecialUse string
		ItemsInFolder, FolderSize, UnreadItems    int64
	}
	out := struct {
		ItemCount, TotalItemSize, UnreadItems int64
		Folders                               []folderView
	}{ItemCount: st.Total.Messages, TotalItemSize: st.Total.Bytes, UnreadItems: st.Total.Unseen, Folders: []folderView{}}
	for _, f := range st.Folders {
		out.Folders = append(out.Folders, folderView{Name: f.Name, FolderPath: f.Path, FolderClass: f.Class, SpecialUse: f.SpecialUse,
			ItemsInFolder: f.Counts.Messages, FolderSize: f.Counts.Bytes, UnreadItems: f.Counts.Unseen})
	}
	return out, nil
}

// Remove deletes a mailbox's content.
func (c contentAdapter) Remove(ctx context.Context, tenantID, guid string) error {
	mb, err := c.st.Mailbox(ctx, tenantID, guid)
	if err != nil {
		return err
	}
	return c.st.DeleteMailbox(ctx, mb.ID)
}
