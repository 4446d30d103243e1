package importer_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/mailstore/importer"
	"github.com/tenantferry/tenantferry/internal/testsupport/corpus"
)

var bg = context.Background()

func newMailbox(t *testing.T, d *db.DB) (*mailstore.Store, *mailstore.Mailbox) {
	t.Helper()
	bs, err := blobstore.New(d, blobstore.Options{Dir: filepath.Join(t.TempDir(), "blobs")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	s := mailstore.New(d, bs)
	mb, err := s.CreateMailbox(bg, mailstore.NewMailbox{TenantID: "t1", GUID: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", DefaultFolders: true})
	if err != nil {
		t.Fatal(err)
	}
	return s, mb
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestMaildirFlags(t *testing.T) {
	kw := []string{"$Label1", "Work"}
	for name, want := range map[string][]string{
		"1463868505.abc:2,S":          {`\Seen`},
		"1463868505.abc:2,FRSTDPab":   {"$Forwarded", "$Label1", `\Answered`, `\Deleted`, `\Draft`, `\Flagged`, `\Seen`, "Work"},
		"1463868505.abc%3A2%2CS":      {`\Seen`},
		"1463868505.abc!2,F":          {`\Flagged`},
		"1463868505.abc:2,Sz":         {`\Seen`}, // keyword z unknown
		"1463868505.abc":              nil,
		"1463868505.abc:1,experiment": nil,
	} {
		if got := importer.MaildirFlags(name, kw); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
}

func TestImportMaildirAndReimport(t *testing.T) {
	dir := t.TempDir()
	write := func(p, content string) {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("cur/1500000000.a.host:2,Sa", "Subject: one\n\n1\n")
	write("new/1500000001.b.host", "Subject: two\r\n\r\n2\r\n")
	write("tmp/1500000002.c.host", "never imported")
	write("cur/.hidden", "never imported")
	write("dovecot-keywords", "0 Important\n1 Later\n")
	write(".Work.Projects/cur/1500000003.d.host:2,Fb", "Subject: three\r\r3\r")
	write(".Work.Projects/dovecot-keywords", "0 x\n1 ProjKw\n")
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		s, mb := newMailbox(t, d)
		names := map[string]mailstore.Appended{}
		opts := importer.Options{OriginPrefix: "test-import:", OnItem: func(n string, a mailstore.Appended) { names[n] = a }}
		res, err := importer.Import(bg, s, mb.ID, dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		if res.Messages != 3 || len(names) != 3 {
			t.Fatalf("result %+v names %v", res, names)
		}
		a := names["cur/1500000000.a.host:2,Sa"]
		it, err := s.Item(bg, mb.ID, a.ItemID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(it.Flags, []string{`\Seen`, "Important"}) || !it.InternalDate.Equal(time.Unix(1500000000, 0)) {
			t.Fatalf("item %+v", it)
		}
		proj, err := s.FolderByPath(bg, mb.ID, "Work/Projects")
		if err != nil {
			t.Fatal(err)
		}
		p := names[".Work.Projects/cur/1500000003.d.host:2,Fb"]
		it, _ = s.Item(bg, mb.ID, p.ItemID)
		if p.FolderID != proj.ID || !reflect.DeepEqual(it.Flags, []string{`\Flagged`, "ProjKw"}) || it.Subject != "three" {
			t.Fatalf("subfolder item %+v", it)
		}
		// Re-running an import with origins adds nothing.
		m := modseqOf(t, s, mb.ID)
		res, err = importer.Import(bg, s, mb.ID, dir, opts)
		if err != nil || res.Messages != 3 {
			t.Fatalf("reimport %+v %v", res, err)
		}
		st, _ := s.Stats(bg, mb.ID)
		if st.Total.Messages != 3 || modseqOf(t, s, mb.ID) != m {
			t.Fatalf("reimport added items: %+v", st.Total)
		}
		// Oversized messages are skipped and reported.
		s.MaxItemSize = 12
		res, err = importer.ImportMbox(bg, s, mb.ID, "big.mbox", strings.NewReader("From a\nSubject: far too long\n\nFrom b\nX: 1\n"), importer.Options{Folder: "Big"})
		if err != nil || res.Messages != 1 || len(res.Skipped) != 1 || res.Skipped[0].Name != "big.mbox#1" {
			t.Fatalf("skip: %+v %v", res, err)
		}
	})
}

func modseqOf(t *testing.T, s *mailstore.Store, mb int64) int64 {
	t.Helper()
	m, err := s.HighestModSeq(bg, mb)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCorpusRoundTrip imports every message of the shared corpus and reads
// each back: the bytes must hash to the same SHA-256 as the source message.
func TestCorpusRoundTrip(t *testing.T) {
	dir := corpus.Dir(t)
	entries, err := corpus.Manifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	msgs := corpus.Messages(t)
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		s, mb := newMailbox(t, d)
		got := map[string]mailstore.Appended{}
		prefix := ""
		im := importer.New(s, mb.ID, importer.Options{OnItem: func(name string, a mailstore.Appended) { got[prefix+name] = a }})
		for _, e := range entries {
			switch e.Kind() {
			case "mbox":
				f, err := os.Open(filepath.Join(dir, filepath.FromSlash(e.Path)))
				if err != nil {
					t.Fatal(err)
				}
				err = im.Mbox(bg, "Corpus/mbox", e.Path, f)
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
			case "file":
				if err := im.File(bg, "Corpus/files", e.Path, filepath.Join(dir, filepath.FromSlash(e.Path))); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := im.Close(bg); err != nil {
			t.Fatal(err)
		}
		for _, root := range corpus.MaildirRoots(entries) {
			prefix = root + "/"
			if _, err := importer.ImportMaildir(bg, s, mb.ID, filepath.Join(dir, filepath.FromSlash(root)),
				importer.Options{Folder: "Corpus/maildir/" + root, OnItem: func(name string, a mailstore.Appended) { got[prefix+name] = a }}); err != nil {
				t.Fatal(err)
			}
		}
		var bytes int64
		for _, m := range msgs {
			a, ok := got[m.Name]
			if !ok {
				t.Fatalf("%s was not imported", m.Name)
			}
			want := m.SHA256()
			if a.SHA256 != want || a.Size != int64(len(m.Data)) {
				t.Fatalf("%s: stored %s (%d bytes), source %s (%d bytes)", m.Name, a.SHA256, a.Size, want, len(m.Data))
			}
			b, err := s.OpenItem(bg, mb.ID, a.ItemID)
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(b)
			b.Close()
			if err != nil {
				t.Fatal(err)
			}
			if sum(data) != want {
				t.Fatalf("%s: content read back differs from the source", m.Name)
			}
			if m.Entry.Kind() == "maildir" {
				it, err := s.Item(bg, mb.ID, a.ItemID)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(it.Flags, m.Flags) && !(len(it.Flags) == 0 && len(m.Flags) == 0) {
					t.Fatalf("%s: flags %q, want %q", m.Name, it.Flags, m.Flags)
				}
			}
			bytes += a.Size
		}
		st, err := s.Stats(bg, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st.Total.Messages != int64(len(msgs)) || len(got) != len(msgs) {
			t.Fatalf("store holds %d items, corpus has %d messages", st.Total.Messages, len(msgs))
		}
		t.Logf("corpus round trip: %d messages, %d bytes, all byte-exact", len(msgs), bytes)
	})
}
