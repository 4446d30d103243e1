package server

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/config"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/quota"
)

// setupStore opens the blob store and the mailbox store.
func (s *Server) setupStore() error {
	bs, err := blobstore.New(s.DB, blobOptions(s.Cfg))
	if err != nil {
		return err
	}
	s.closers = append(s.closers, func(context.Context) error { return bs.Close() })
	s.Blobs = bs
	s.Store = mailstore.New(s.DB, bs)
	s.Quota = &quota.Checker{Dir: s.Dir, Store: s.Store}
	s.Admin.Content = contentAdapter{st: s.Store, tmpDir: filepath.Join(s.Cfg.DataDir, "tmp"), maxImport: s.Cfg.MaxImportSize, quota: s.Quota}
	s.Admin.Storage = storageAdapter{s: s}
	if err := os.MkdirAll(filepath.Join(s.Cfg.DataDir, "tmp"), 0o700); err != nil {
		return err
	}
	return nil
}

// blobOptions maps the configuration to the blob store's options. The S3
// service is configured whenever an endpoint is given, so blobs written to
// S3 stay readable after a switch back to files or db.
func blobOptions(cfg config.Config) blobstore.Options {
	o := blobstore.Options{Backend: blobstore.Pack, Dir: filepath.Join(cfg.DataDir, "blobs"), MemoryBudget: cfg.BlobMemoryBudget}
	switch cfg.BlobBackend {
	case "db":
		o.Backend = blobstore.Database
	case "s3":
		o.Backend = blobstore.S3
	}
	if cfg.S3Endpoint != "" {
		o.S3 = &blobstore.S3Options{Endpoint: cfg.S3Endpoint, Bucket: cfg.S3Bucket, Region: cfg.S3Region,
			CredentialsFile: cfg.S3CredentialsFile, CacheDir: filepath.Join(cfg.DataDir, "s3cache"), CacheSize: cfg.S3CacheSize}
	}
	return o
}

// contentAdapter gives the admin core the mailbox store operations it needs.
type contentAdapter struct {
	st        *mailstore.Store
	tmpDir    string // for unpacking uploads
	maxImport int64  // --max-import-size (0: DefaultMaxImportSize)
	// quota, when set, bounds imports by the room left in the mailbox and
	// its tenant.
	quota *quota.Checker
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

var _ admin.BulkContent = contentAdapter{}

// ProvisionMany creates the content of many new primary mailboxes (a bulk
// creation) in chunked transactions.
func (c contentAdapter) ProvisionMany(ctx context.Context, tenantID string, guids []string) error {
	return c.st.EnsureMailboxes(ctx, tenantID, guids, mailstore.KindPrimary)
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
		// Quota and TenantQuota are the limits (0: unlimited); TenantUsed
		// is measured when the tenant has one.
		Quota, TenantQuota, TenantUsed int64
		Folders                        []folderView
	}{ItemCount: st.Total.Messages, TotalItemSize: st.Total.Bytes, UnreadItems: st.Total.Unseen, Folders: []folderView{}}
	if c.quota != nil {
		q, err := c.quota.Status(ctx, tenantID, guid)
		if err != nil {
			return nil, err
		}
		out.Quota, out.TenantQuota, out.TenantUsed = q.MailboxLimit, q.TenantLimit, q.TenantUsed
	}
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

// storageAdapter gives the admin core the storage commands.
type storageAdapter struct{ s *Server }

// Stats measures the blob store, with the retention settings.
func (a storageAdapter) Stats(ctx context.Context) (any, error) {
	st, err := a.s.Blobs.Stats(ctx)
	if err != nil {
		return nil, err
	}
	return struct {
		*blobstore.Stats
		TombstoneRetention string
		RetiredRetention   string
	}{st, a.s.Cfg.TombstoneRetention.String(), a.s.Cfg.RetiredRetention.String()}, nil
}

// GC runs a housekeeping round now.
func (a storageAdapter) GC(ctx context.Context, noCompact bool, grace, readerGrace time.Duration) (any, error) {
	// An operator's grace covers orphans too: "collect what is this old".
	return a.s.housekeep(ctx, blobstore.GCOptions{Now: time.Now(), NoCompact: noCompact, Grace: grace, ReaderGrace: readerGrace, OrphanGrace: grace})
}
