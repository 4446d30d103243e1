package server_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tenantferry/tenantferry/internal/config"
	"github.com/tenantferry/tenantferry/internal/server"
)

// TestNewFailureClosesWhatItOpened: when New fails after it opened the data
// directory (here: a database that cannot be reached), it returns the
// error, closes what it had opened (the data directory's lock is free
// again) and does not panic.
func TestNewFailureClosesWhatItOpened(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DB = "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"
	cfg.HTTP, cfg.IMAP, cfg.SMTP, cfg.Submission = "127.0.0.1:0", "off", "off", "off"
	if _, err := server.New(context.Background(), cfg, nil); err == nil {
		t.Fatal("New succeeded without a database")
	}
	// The same data directory opens now with SQLite: nothing held it.
	cfg.DB = ""
	s, err := server.New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("New after a failed New: %v", err)
	}
	s.Shutdown(context.Background())
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "server.key")); err != nil {
		t.Fatalf("data directory: %v", err)
	}
}
