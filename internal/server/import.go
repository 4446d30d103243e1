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

// Import loads messages into a mailbox: an mbox stream is split as it
// arrives; a maildir or a directory of files arrives as a tar archive, is
// unpacked into a private temporary directory and imported from there.
func (c contentAdapter) Import(ctx context.Context, tenantID, guid, format, folder string, body io.Reader) (any, error) {
	mb, err := c.st.Mailbox(ctx, tenantID, guid)
	if err != nil {
		return nil, err
	}
	opts := importer.Options{Folder: folder}
	var res *importer.Result
	switch format {
	case ImportMbox:
		res, err = importer.ImportMbox(ctx, c.st, mb.ID, "upload", body, opts)
	case ImportMaildir, ImportEmlDir:
		dir, derr := os.MkdirTemp(c.tmpDir, "import-")
		if derr != nil {
			return nil, derr
		}
		defer os.RemoveAll(dir)
		if err := untar(body, dir); err != nil {
			return nil, err
		}
		if format == ImportMaildir {
			res, err = importer.ImportMaildir(ctx, c.st, mb.ID, dir, opts)
		} else {
			res, err = importer.ImportFiles(ctx, c.st, mb.ID, dir, opts)
		}
	default:
		return nil, errs.Invalidf("InvalidImportFormat", "import format %q is not mbox, maildir or emldir", format)
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

// untar unpacks regular files and directories of a tar stream below dir,
// refusing absolute paths, parent references and links.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return errs.Invalidf("InvalidArchive", "the upload is not a readable tar archive: %v", err)
		}
		name := filepath.Clean(filepath.FromSlash(h.Name))
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) {
			return errs.Invalidf("InvalidArchive", "the archive entry %q leaves the import directory", h.Name)
		}
		path := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
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
