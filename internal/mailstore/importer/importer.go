// Package importer loads messages from mbox files, maildir trees and
// directories of message files into a mailbox of the mailstore, through its
// batch write path (one fsync and one transaction per chunk).
//
// Invariants:
//   - Message bytes are imported byte-exact: the mbox split is the one
//     defined by MboxReader (exported so tests and other packages use the
//     same definition), maildir and single files are taken whole.
//   - Memory is bounded: messages stream from the source into the blob
//     store; a chunk commits after Options.ChunkItems items or
//     Options.ChunkBytes bytes.
//   - With Options.OriginPrefix set, every message gets the origin
//     prefix+name, so re-running the same import adds nothing.
//   - A message over the store's size limit is skipped and reported, not
//     fatal; any other error stops the import, leaving every chunk committed
//     before it in place.
package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// Defaults for Options.
const (
	DefaultChunkItems = 500
	DefaultChunkBytes = 32 << 20
)

// Options configure an import.
type Options struct {
	// Folder is the destination folder path (default "INBOX"), created if
	// missing. Maildir++ subfolders go below it, or at the top level when
	// it is the Inbox (the Dovecot layout).
	Folder string
	// OriginPrefix, when set, makes the import idempotent: each message's
	// origin is OriginPrefix + its name.
	OriginPrefix string
	// ChunkItems and ChunkBytes bound a commit (defaults DefaultChunkItems,
	// DefaultChunkBytes).
	ChunkItems int
	ChunkBytes int64 // see ChunkItems
	// OnItem, if set, is called for each committed message with its name
	// ("<name>#<n>" for the n-th message of an mbox, the path relative to
	// the maildir or directory root otherwise).
	OnItem func(name string, a mailstore.Appended)
}

// Skipped is a message the import left out.
type Skipped struct {
	Name   string // message name (see Options.OnItem)
	Reason string // why it was left out
}

// Result summarises an import.
type Result struct {
	Messages int       // messages stored (or already present by origin)
	Bytes    int64     // their total size
	Folders  []string  // folders written to (paths)
	Skipped  []Skipped // messages left out
}

// Importer imports messages from several sources into one mailbox, sharing
// chunks between them. Use it from one goroutine and always Close it.
type Importer struct {
	s       *mailstore.Store
	mb      int64
	opts    Options
	res     *Result
	batch   *mailstore.AppendBatch
	names   []string
	folders map[string]int64
}

// New returns an importer into a mailbox.
func New(s *mailstore.Store, mailboxID int64, opts Options) *Importer {
	if opts.Folder == "" {
		opts.Folder = "INBOX"
	}
	if opts.ChunkItems <= 0 {
		opts.ChunkItems = DefaultChunkItems
	}
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = DefaultChunkBytes
	}
	return &Importer{s: s, mb: mailboxID, opts: opts, res: &Result{}, folders: map[string]int64{}}
}

// folder returns the id of the folder at path (Options.Folder when ""),
// creating it if missing.
func (im *Importer) folder(ctx context.Context, path string) (int64, error) {
	if path == "" {
		path = im.opts.Folder
	}
	if id, ok := im.folders[path]; ok {
		return id, nil
	}
	f, err := im.s.FolderByPath(ctx, im.mb, path)
	if errors.Is(err, mailstore.ErrFolderNotFound) {
		f, err = im.s.CreateFolder(ctx, im.mb, path, mailstore.FolderOptions{})
	}
	if err != nil {
		return 0, err
	}
	im.folders[path] = f.ID
	im.res.Folders = append(im.res.Folders, f.Path)
	return f.ID, nil
}

// add streams one message into the current chunk, committing it when full.
func (im *Importer) add(ctx context.Context, folderID int64, name string, r io.Reader, flags []string, date time.Time) error {
	if im.batch == nil {
		im.batch = im.s.NewAppendBatch(im.mb)
	}
	it := mailstore.AppendItem{FolderID: folderID, Content: r, Flags: flags, InternalDate: date}
	if im.opts.OriginPrefix != "" {
		it.Origin = im.opts.OriginPrefix + name
	}
	if err := im.batch.Add(ctx, it); err != nil {
		if e := errs.As(err); e != nil && errors.Is(err, mailstore.ErrItemTooLarge) {
			im.res.Skipped = append(im.res.Skipped, Skipped{Name: name, Reason: e.Message})
			return nil
		}
		return fmt.Errorf("import %s: %w", name, err)
	}
	im.names = append(im.names, name)
	if im.batch.Len() >= im.opts.ChunkItems || im.batch.Bytes() >= im.opts.ChunkBytes {
		return im.flush(ctx)
	}
	return nil
}

// flush commits the current chunk.
func (im *Importer) flush(ctx context.Context) error {
	if im.batch == nil {
		return nil
	}
	b := im.batch
	im.batch = nil
	defer b.Close()
	names := im.names
	im.names = nil
	if b.Len() == 0 {
		return nil
	}
	out, err := b.Commit(ctx, nil)
	if err != nil {
		return err
	}
	for i, a := range out {
		im.res.Messages++
		im.res.Bytes += a.Size
		if im.opts.OnItem != nil {
			im.opts.OnItem(names[i], a)
		}
	}
	return nil
}

// Close commits the messages added since the last chunk and returns the
// result. Messages read completely before an error are stored too.
func (im *Importer) Close(ctx context.Context) (*Result, error) {
	return im.res, im.flush(ctx)
}

// Mbox imports the messages of an mbox stream into folder ("" for
// Options.Folder). name names the messages in Options.OnItem and origins
// ("<name>#<n>", n from 1). The internal date of a message is its
// separator's date, or now.
func (im *Importer) Mbox(ctx context.Context, folder, name string, r io.Reader) error {
	fid, err := im.folder(ctx, folder)
	if err != nil {
		return err
	}
	mr := NewMboxReader(r)
	for n := 1; ; n++ {
		msg, body, err := mr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read mbox %s: %w", name, err)
		}
		if err := im.add(ctx, fid, fmt.Sprintf("%s#%d", name, n), body, nil, msg.Date); err != nil {
			return err
		}
	}
}

// Maildir imports a maildir tree: cur/ and new/ of the root into folder
// ("" for Options.Folder), and each Maildir++ subfolder ".A.B" into folder
// "A/B" below it (at the top level when folder is the Inbox, the Dovecot
// layout). Flags come from the file names' info suffix and the folder's
// dovecot-keywords file; the internal date from the file name's timestamp,
// else the mtime. tmp/ and dot files are skipped. Messages are named by
// their path relative to root.
func (im *Importer) Maildir(ctx context.Context, folder, root string) error {
	if folder == "" {
		folder = im.opts.Folder
	}
	folders, err := maildirFolders(root)
	if err != nil {
		return err
	}
	base := folder
	if strings.EqualFold(base, "INBOX") {
		base = ""
	}
	for _, f := range folders {
		path := folder
		if f.path != "" {
			path = f.path
			if base != "" {
				path = base + "/" + f.path
			}
		}
		fid, err := im.folder(ctx, path)
		if err != nil {
			return err
		}
		kw, err := ReadKeywords(f.dir)
		if err != nil {
			return err
		}
		files, err := maildirFiles(f)
		if err != nil {
			return err
		}
		for _, mf := range files {
			if err := im.addFile(ctx, fid, mf.rel, mf.path, MaildirFlags(filepath.Base(mf.path), kw), mf.date); err != nil {
				return err
			}
		}
	}
	return nil
}

func (im *Importer) addFile(ctx context.Context, folderID int64, name, path string, flags []string, date time.Time) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	if date.IsZero() {
		if st, err := fh.Stat(); err == nil {
			date = st.ModTime()
		}
	}
	return im.add(ctx, folderID, name, fh, flags, date)
}

// Files imports every regular file below dir (recursively, dot files and
// dot directories skipped, in path order) as one message each into folder
// ("" for Options.Folder), named by the path relative to dir, with the
// file's mtime as internal date.
func (im *Importer) Files(ctx context.Context, folder, dir string) error {
	fid, err := im.folder(ctx, folder)
	if err != nil {
		return err
	}
	var files []string
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, p := range files {
		rel, _ := filepath.Rel(dir, p)
		if err := im.addFile(ctx, fid, filepath.ToSlash(rel), p, nil, time.Time{}); err != nil {
			return err
		}
	}
	return nil
}

// File imports one file as one message into folder ("" for
// Options.Folder), named name.
func (im *Importer) File(ctx context.Context, folder, name, path string) error {
	fid, err := im.folder(ctx, folder)
	if err != nil {
		return err
	}
	return im.addFile(ctx, fid, name, path, nil, time.Time{})
}

// run imports with one source and closes the importer.
func run(ctx context.Context, s *mailstore.Store, mailboxID int64, opts Options, f func(im *Importer) error) (*Result, error) {
	im := New(s, mailboxID, opts)
	err := f(im)
	res, cerr := im.Close(ctx)
	if err == nil {
		err = cerr
	}
	return res, err
}

// ImportMbox imports an mbox stream into Options.Folder (see Importer.Mbox).
func ImportMbox(ctx context.Context, s *mailstore.Store, mailboxID int64, name string, r io.Reader, opts Options) (*Result, error) {
	return run(ctx, s, mailboxID, opts, func(im *Importer) error { return im.Mbox(ctx, "", name, r) })
}

// ImportMaildir imports a maildir tree (see Importer.Maildir).
func ImportMaildir(ctx context.Context, s *mailstore.Store, mailboxID int64, root string, opts Options) (*Result, error) {
	return run(ctx, s, mailboxID, opts, func(im *Importer) error { return im.Maildir(ctx, "", root) })
}

// ImportFiles imports a directory of message files (see Importer.Files).
func ImportFiles(ctx context.Context, s *mailstore.Store, mailboxID int64, dir string, opts Options) (*Result, error) {
	return run(ctx, s, mailboxID, opts, func(im *Importer) error { return im.Files(ctx, "", dir) })
}

// ImportFile imports one file as one message, named by its path.
func ImportFile(ctx context.Context, s *mailstore.Store, mailboxID int64, path string, opts Options) (*Result, error) {
	return run(ctx, s, mailboxID, opts, func(im *Importer) error { return im.File(ctx, "", path, path) })
}

// Import picks the format of path: a maildir (a directory with cur/ or
// new/), a directory of message files, an mbox file (starting with
// "From "), or a single message file.
func Import(ctx context.Context, s *mailstore.Store, mailboxID int64, path string, opts Options) (*Result, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, errs.NotFoundf("ImportSourceNotFound", "cannot read %s", path).WithObject(path).
			WithHint("give an mbox file, a maildir, or a directory of message files").WithCause(err)
	}
	if st.IsDir() {
		if IsMaildir(path) {
			return ImportMaildir(ctx, s, mailboxID, path, opts)
		}
		return ImportFiles(ctx, s, mailboxID, path, opts)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, errs.Internalf(err, "open %s", path)
	}
	defer f.Close()
	head := make([]byte, 5)
	n, _ := io.ReadFull(f, head)
	if string(head[:n]) == "From " {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, errs.Internalf(err, "read %s", path)
		}
		return ImportMbox(ctx, s, mailboxID, filepath.Base(path), f, opts)
	}
	return ImportFile(ctx, s, mailboxID, path, opts)
}
