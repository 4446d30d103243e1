package server

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailstore/importer"
)

// Import formats of the admin API's mailbox import.
const (
	ImportMbox    = "mbox"    // the body is an mbox file
	ImportMaildir = "maildir" // the body is a tar archive of a maildir tree
	ImportEmlDir  = "emldir"  // the body is a tar archive of message files
)

// ImportResult is the JSON result of an import.
type ImportResult struct {
	Messages int
	Bytes    int64
	Folders  []string
	Skipped  []importer.Skipped
}

// Errors of imports.
var (
	// ErrImportTooLarge refuses an import larger than the server's
	// --max-import-size or the mailbox's remaining quota.
	ErrImportTooLarge = errs.Sentinel(errs.TooLarge, "ImportTooLarge")
	// ErrImportLengthRequired refuses an upload that does not declare its
	// length: the limits are checked before anything is read or written.
	ErrImportLengthRequired = errs.Sentinel(errs.Invalid, "LengthRequired")
	// ErrSparseArchiveMember refuses a tar archive with a sparse member,
	// whose expanded size can be far larger than the upload.
	ErrSparseArchiveMember = errs.Sentinel(errs.Invalid, "SparseArchiveMember")
	// ErrInvalidImportFormat: an import format other than mbox, maildir or emldir.
	ErrInvalidImportFormat = errs.Sentinel(errs.Invalid, "InvalidImportFormat")
	// ErrInvalidArchive: an upload that is not a readable tar archive, or an
	// entry that leaves the import directory.
	ErrInvalidArchive = errs.Sentinel(errs.Invalid, "InvalidArchive")
)

// DefaultMaxImportSize is the default --max-import-size.
const DefaultMaxImportSize = 8 << 30

// importLimit is how many bytes an import into the mailbox may bring: the
// server limit, lowered by the room left under the mailbox's and its
// tenant's quotas. quotaErr is the refusal to return when the import is
// over the limit because of a quota (nil when the server limit is the
// lower).
func (c contentAdapter) importLimit(ctx context.Context, tenantID, guid, name string) (limit int64, quotaErr func(size int64) error, err error) {
	limit = c.maxImport
	if limit <= 0 {
		limit = DefaultMaxImportSize
	}
	if c.quota == nil {
		return limit, nil, nil
	}
	st, err := c.quota.Status(ctx, tenantID, guid)
	if err != nil {
		return 0, nil, err
	}
	if room := st.Room(); room >= 0 && room < limit {
		return room, func(size int64) error { return st.Fits(name, size) }, nil
	}
	return limit, nil, nil
}

// Import loads messages into a mailbox. The upload declares its size, and
// every refusal is decided before the mailbox is touched: a size over the
// limit (server --max-import-size, or the remaining quota) is refused
// before a byte is read. An mbox stream is split as it arrives, with no
// temporary copy. A maildir or a directory of files arrives as a tar
// archive; it is unpacked into a private temporary directory first, every
// member checked (no sparse members, no paths leaving the directory, the
// expanded total within the limit), and imported only once all of it
// passed.
func (c contentAdapter) Import(ctx context.Context, tenantID, guid, name, format, folder string, size int64, body io.Reader) (any, error) {
	mb, err := c.st.Mailbox(ctx, tenantID, guid)
	if err != nil {
		return nil, err
	}
	if format != ImportMbox && format != ImportMaildir && format != ImportEmlDir {
		return nil, ErrInvalidImportFormat.Newf("import format %q is not mbox, maildir or emldir", format)
	}
	if size < 0 {
		return nil, ErrImportLengthRequired.Newf("the import upload does not declare its length").
			WithHint("send the upload with a Content-Length header (the tenantferry CLI does)")
	}
	limit, quotaErr, err := c.importLimit(ctx, tenantID, guid, name)
	if err != nil {
		return nil, err
	}
	if size > limit {
		if quotaErr != nil {
			return nil, quotaErr(size)
		}
		return nil, tooLarge(size, limit)
	}
	body = &exactReader{r: body, left: size}
	opts := importer.Options{Folder: folder}
	var res *importer.Result
	switch format {
	case ImportMbox:
		res, err = importer.ImportMbox(ctx, c.st, mb.ID, "upload", body, opts)
	default:
		dir, derr := os.MkdirTemp(c.tmpDir, "import-")
		if derr != nil {
			return nil, derr
		}
		defer os.RemoveAll(dir)
		over := func(n int64) error { return tooLarge(n, limit) }
		if quotaErr != nil {
			over = quotaErr
		}
		if err := untar(body, dir, limit, over); err != nil {
			return nil, err
		}
		if format == ImportMaildir {
			res, err = importer.ImportMaildir(ctx, c.st, mb.ID, dir, opts)
		} else {
			res, err = importer.ImportFiles(ctx, c.st, mb.ID, dir, opts)
		}
	}
	if res == nil {
		return nil, err
	}
	out := &ImportResult{Messages: res.Messages, Bytes: res.Bytes, Folders: res.Folders, Skipped: res.Skipped}
	if out.Folders == nil {
		out.Folders = []string{}
	}
	if out.Skipped == nil {
		out.Skipped = []importer.Skipped{}
	}
	return out, err
}

func tooLarge(size, limit int64) *errs.Error {
	return ErrImportTooLarge.Newf("the import of %d bytes exceeds the limit of %d bytes", size, limit).
		WithHint("split the import, or ask the operator to raise --max-import-size (or the mailbox's quota)")
}

// exactReader reads exactly the declared length: a body that ends early
// or runs on is an error, never silently cut.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		var one [1]byte
		if n, _ := e.r.Read(one[:]); n > 0 {
			return 0, errs.Invalidf("InvalidUpload", "the upload is longer than its declared length").
				WithHint("send the upload with its exact Content-Length")
		}
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		return n, errs.Invalidf("InvalidUpload", "the upload ended %d bytes before its declared length", e.left).
			WithHint("send the whole file again")
	}
	return n, err
}

// untar unpacks regular files and directories of a tar stream below dir,
// refusing absolute paths, parent references, sparse members and a total
// of member sizes over limit; links and devices are ignored. Sizes are
// checked from each member's header, before its bytes are read.
func untar(r io.Reader, dir string, limit int64, over func(total int64) error) error {
	tr := tar.NewReader(r)
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if e := errs.As(err); e != nil {
				return e // from the upload's reader
			}
			return ErrInvalidArchive.Newf("the upload is not a readable tar archive: %v", err)
		}
		if sparse(h) {
			return ErrSparseArchiveMember.Newf("the archive member %q is a sparse file", h.Name).WithObject(h.Name).
				WithHint("archive message files as regular files (no tar --sparse)")
		}
		name := filepath.Clean(filepath.FromSlash(h.Name))
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) {
			return ErrInvalidArchive.Newf("the archive entry %q leaves the import directory", h.Name)
		}
		path := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if total += h.Size; h.Size < 0 || total > limit {
				return over(total)
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			os.Chtimes(path, h.ModTime, h.ModTime)
		default:
			// links, devices: ignored
		}
	}
}

// sparse reports whether a tar member is a sparse file, in any of the GNU
// encodings (the old GNU type, or PAX records GNU.sparse.*), which the tar
// reader would expand to its full size.
func sparse(h *tar.Header) bool {
	if h.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}
