package mailstore_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/blobstore/blobtest"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

const (
	tenantA = "8d3b0a52-7f43-4f55-9d4c-1d2b5f6c7a80"
	guid1   = "6a4f1c2e-93b5-4d7a-8e21-0f9c3b5d7e11"
)

var bg = context.Background()

// newStore opens a store on d with a pack blob store in a temp dir.
func newStore(t testing.TB, d *db.DB) *mailstore.Store {
	t.Helper()
	bs, err := blobstore.New(d, blobstore.Options{Dir: filepath.Join(t.TempDir(), "blobs")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	s := mailstore.New(d, bs)
	t.Cleanup(func() {
		if err := s.CheckConsistency(context.Background()); err != nil {
			t.Errorf("store consistency: %v", err)
		}
	})
	return s
}

// eachStore runs f on every blob backend (files, db, s3) and dialect with
// a fresh store and mailbox.
func eachStore(t *testing.T, f func(t *testing.T, s *mailstore.Store, mb *mailstore.Mailbox)) {
	blobtest.Backends(t, blobstore.Options{}, func(t *testing.T, e *blobtest.Env) {
		s := mailstore.New(e.DB, e.Open(t))
		t.Cleanup(func() {
			if err := s.CheckConsistency(context.Background()); err != nil {
				t.Errorf("store consistency: %v", err)
			}
		})
		mb, err := s.CreateMailbox(bg, mailstore.NewMailbox{TenantID: tenantA, GUID: guid1, DefaultFolders: true})
		if err != nil {
			t.Fatal(err)
		}
		f(t, s, mb)
	})
}

func msg(i int) string {
	return fmt.Sprintf("From: Sender %d <s%d@example.test>\r\nSubject: message %d\r\nMessage-ID: <m%d@example.test>\r\nDate: Mon, 2 Jan 2006 15:04:05 -0700\r\n\r\nbody %d\r\n", i, i, i, i, i)
}

func mustFolder(t testing.TB, s *mailstore.Store, mb int64, path string) *mailstore.Folder {
	t.Helper()
	f, err := s.FolderByPath(bg, mb, path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func appendN(t testing.TB, s *mailstore.Store, mb, folder int64, n int, flags ...string) []mailstore.Appended {
	t.Helper()
	items := make([]mailstore.AppendItem, n)
	for i := range items {
		items[i] = mailstore.AppendItem{FolderID: folder, Content: strings.NewReader(msg(i)), Flags: flags, InternalDate: time.Unix(1700000000+int64(i), 0)}
	}
	out, err := s.AppendMany(bg, mb, items, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if !errs.Is(err, code) {
		t.Fatalf("want %s, got %v", code, err)
	}
	if e := errs.As(err); e.Message == "" || e.Hint == "" {
		t.Fatalf("%s without message or hint: %+v", code, e)
	}
}

func modseq(t testing.TB, s *mailstore.Store, mb int64) int64 {
	t.Helper()
	m, err := s.HighestModSeq(bg, mb)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readItem(t testing.TB, s *mailstore.Store, mb, id int64) string {
	t.Helper()
	b, err := s.OpenItem(bg, mb, id)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	data, err := io.ReadAll(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// itemChanges returns all item changes after since.
func itemChanges(t testing.TB, s *mailstore.Store, mb, since int64) []mailstore.ItemChange {
	t.Helper()
	var out []mailstore.ItemChange
	cur := mailstore.Cursor{ModSeq: since}
	for {
		page, next, err := s.ItemChanges(bg, mb, cur, 0, 2)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if len(page) < 2 {
			return out
		}
		cur = next
	}
}

func tombstones(t testing.TB, s *mailstore.Store, mb, since int64) []mailstore.Tombstone {
	t.Helper()
	out, _, err := s.Tombstones(bg, mb, mailstore.Cursor{ModSeq: since}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
