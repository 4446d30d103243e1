package server

import (
	"context"
	"os"
	"path/filepath"
	"syscall"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// LockFile is the lock file that keeps a second process off an embedded
// (SQLite) data directory.
const LockFile = "tenantferry.lock"

// lockDataDir takes an exclusive, non-blocking flock on DATA/tenantferry.lock.
// The kernel drops it when the process dies, however it dies.
func (s *Server) lockDataDir() error {
	path := filepath.Join(s.Cfg.DataDir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return errs.Conflictf("DataDirInUse", "data directory %s is used by another tenantferry process", s.Cfg.DataDir).
			WithHint("stop the other process, or use PostgreSQL (--db postgres://...) to run several nodes")
	}
	s.closers = append(s.closers, func(context.Context) error { return f.Close() })
	return nil
}
