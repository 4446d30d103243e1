package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// Files of a demo data directory.
const (
	// MarkerFile marks a directory as a demo's: only a directory holding it
	// (or an empty one) is ever written to or wiped.
	MarkerFile = "tenantferry-demo.json"
	// lockFile keeps two demos off one directory while they run.
	lockFile = "demo.lock"
	// LogFile receives the log of both servers.
	LogFile = "demo.log"
)

// marker is the content of MarkerFile.
type marker struct {
	Created time.Time
	Note    string
}

// dataDir is a demo data directory held (locked) by this process.
type dataDir struct {
	path string
	lock *os.File
}

// openDataDir prepares path for a fresh demo: it must be missing, empty, or
// a previous demo's (holding MarkerFile), whose content is then removed. A
// directory with anything else is refused, so the demo never deletes data it
// did not create. The returned directory is locked until release.
func openDataDir(path string) (*dataDir, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, errs.Invalidf("InvalidDataDir", "data directory %q: %v", path, err)
	}
	entries, err := os.ReadDir(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, errs.Invalidf("InvalidDataDir", "cannot read data directory %s: %v", abs, err).
			WithHint("pass --data DIR with a directory you can write")
	case len(entries) > 0 && !hasEntry(entries, MarkerFile) && !(len(entries) == 1 && hasEntry(entries, lockFile)):
		return nil, errs.Conflictf("DataDirNotEmpty", "data directory %s is not empty and is not a previous demo's (no %s)", abs, MarkerFile).
			WithHint("pass --data with a new or empty directory; the demo only reuses (and wipes) its own directories")
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, errs.Invalidf("InvalidDataDir", "cannot create data directory %s: %v", abs, err)
	}
	f, err := os.OpenFile(filepath.Join(abs, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, errs.Invalidf("InvalidDataDir", "cannot write in data directory %s: %v", abs, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, errs.Conflictf("DemoRunning", "another demo is running in %s", abs).
			WithHint("stop it (Ctrl-C in its terminal), or pass --data with another directory")
	}
	d := &dataDir{path: abs, lock: f}
	// Wipe a previous demo (everything but the lock we hold), then mark the
	// directory as ours before anything else is written.
	for _, e := range entries {
		if e.Name() == lockFile {
			continue
		}
		if err := os.RemoveAll(filepath.Join(abs, e.Name())); err != nil {
			d.release()
			return nil, errs.Invalidf("InvalidDataDir", "cannot remove the previous demo's %s: %v", e.Name(), err)
		}
	}
	m, _ := json.MarshalIndent(marker{Created: time.Now().UTC(), Note: "tenantferry demo data; the next demo run in this directory replaces it"}, "", "  ")
	if err := os.WriteFile(filepath.Join(abs, MarkerFile), append(m, '\n'), 0o600); err != nil {
		d.release()
		return nil, errs.Invalidf("InvalidDataDir", "cannot write %s: %v", MarkerFile, err)
	}
	return d, nil
}

func hasEntry(entries []fs.DirEntry, name string) bool {
	for _, e := range entries {
		if e.Name() == name {
			return true
		}
	}
	return false
}

// sub returns the path of an entry of the data directory.
func (d *dataDir) sub(name string) string { return filepath.Join(d.path, name) }

// writeFile writes a helper file (CSV, secret) for the CLI lines the demo
// prints, and returns its path.
func (d *dataDir) writeFile(name string, data []byte) (string, error) {
	p := d.sub(name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", p, err)
	}
	return p, nil
}

// release drops the lock; the data stays for inspection.
func (d *dataDir) release() {
	if d.lock != nil {
		d.lock.Close()
		d.lock = nil
	}
}
