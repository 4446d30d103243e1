package cli

import (
	"archive/tar"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func (e *env) importCmd() *cobra.Command {
	var mbox, maildir, emlDir, folder, progress string
	var archive bool
	c := e.apiCmd("import ID", "Import an mbox file, a maildir or a directory of .eml files into a mailbox", cobra.ExactArgs(1), true, view{},
		func(ctx context.Context, cl *client, tp string, a []string) ([]byte, error) {
			n := 0
			for _, v := range []string{mbox, maildir, emlDir} {
				if v != "" {
					n++
				}
			}
			if n != 1 {
				return nil, usageError("pass exactly one of --mbox FILE, --maildir DIR, --eml-dir DIR")
			}
			q := url.Values{"folder": {folder}}
			if archive {
				q.Set("archive", "1")
			}
			// The server wants the upload's length before it reads a byte
			// (it refuses imports over its limits up front).
			var body sizedBody
			switch {
			case mbox != "":
				f, err := os.Open(mbox)
				if err != nil {
					return nil, usageError("cannot read --mbox: %v", err)
				}
				defer f.Close()
				st, err := f.Stat()
				if err != nil {
					return nil, usageError("cannot read --mbox: %v", err)
				}
				q.Set("format", "mbox")
				body = sizedBody{f, st.Size()}
			default:
				dir, format := maildir, "maildir"
				if emlDir != "" {
					dir, format = emlDir, "emldir"
				}
				if st, err := os.Stat(dir); err != nil || !st.IsDir() {
					return nil, usageError("%s is not a directory", dir)
				}
				q.Set("format", format)
				var n countWriter
				if err := tarDir(&n, dir); err != nil {
					return nil, usageError("cannot read %s: %v", dir, err)
				}
				pr, pw := io.Pipe()
				go func() { pw.CloseWithError(tarDir(pw, dir)) }()
				body = sizedBody{pr, int64(n)}
			}
			if progress == "always" || (progress == "auto" && isTerminal(e.stderr)) {
				pg := newUploadProgress(e.stderr, body.n, isTerminal(e.stderr))
				body.Reader = pg.reader(body.Reader)
				defer pg.done()
			} else if progress != "never" && progress != "auto" {
				return nil, usageError("--progress must be auto, always or never, not %q", progress)
			}
			return cl.doRaw(ctx, http.MethodPost, tp+"/mailboxes/"+esc(a[0])+"/import?"+q.Encode(), "application/octet-stream", body)
		})
	f := c.Flags()
	f.StringVar(&mbox, "mbox", "", "mbox file")
	f.StringVar(&maildir, "maildir", "", "maildir directory (cur/new, Maildir++ subfolders, flags from file names)")
	f.StringVar(&emlDir, "eml-dir", "", "directory of message files, one message per file")
	f.StringVar(&folder, "folder", "", "destination folder (default Inbox)")
	f.BoolVar(&archive, "archive", false, "import into the mailbox's archive")
	f.StringVar(&progress, "progress", "auto", "show the upload's progress on stderr: auto (on a terminal), always or never")
	return c
}

// tarDir writes the regular files and directories below dir as a tar
// stream (file times kept: they become internal dates).
func tarDir(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		if !info.IsDir() && !info.Mode().IsRegular() {
			return nil
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// sizedBody is a request body whose length is known before it is sent
// (client.doRaw sends it as Content-Length).
type sizedBody struct {
	io.Reader
	n int64
}

// countWriter counts the bytes written to it (the size of a tar stream
// before it is sent).
type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}
