package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// upload posts an import through the HTTP API with the operator token;
// size < 0 sends it chunked (no declared length).
func upload(t *testing.T, s *scenario.Server, format string, body []byte, size int64) (int, string) {
	t.Helper()
	var rd io.Reader = bytes.NewReader(body)
	if size < 0 {
		rd = io.MultiReader(rd) // hides the length: chunked
	}
	req, _ := http.NewRequest(http.MethodPost, s.PublicURL+"/api/v1/tenants/contoso/mailboxes/user01/import?format="+format, rd)
	req.ContentLength = size
	if size < 0 {
		req.ContentLength = -1
	}
	req.Header.Set("Authorization", "Bearer "+s.OperatorToken)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Code, Detail, Hint string }
	json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode >= 300 && (e.Detail == "" || e.Hint == "") {
		t.Fatalf("%d %s without message or hint", resp.StatusCode, e.Code)
	}
	return resp.StatusCode, e.Code
}

// sparseTar builds a real sparse tar with GNU tar: a message of 256 MiB
// that is almost all hole, archived with --sparse in the given format.
func sparseTar(t *testing.T, format, member string) []byte {
	t.Helper()
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("GNU tar is not installed: cannot build a sparse archive")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	p := filepath.Join(src, member)
	os.MkdirAll(filepath.Dir(p), 0o700)
	if err := os.WriteFile(p, []byte("Subject: bomb\r\n\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 256<<20); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "bomb.tar")
	if b, err := exec.Command("tar", "--sparse", "--format="+format, "-cf", out, "-C", src, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 64<<10 {
		t.Fatalf("the sparse archive is %d bytes: tar did not write a sparse member", len(b))
	}
	return b
}

// TestImportBombs (issue 7, hole 5): a tar with a sparse member (GNU and
// PAX encodings, made by GNU tar) is refused with SparseArchiveMember
// before anything is expanded; an upload larger than --max-import-size is
// refused with ImportTooLarge, and one that does not declare its length
// with LengthRequired, before a byte is read. Nothing is written: the
// mailbox keeps its MODSEQ, items and folders, and DATA/tmp stays empty.
func TestImportBombs(t *testing.T) {
	const limit = 1 << 20
	s := scenario.StartWith(t, scenario.Options{SMTP: "off"}, func(c *scenario.Config) { c.MaxImportSize = limit })
	s.Tenant("contoso")
	u := s.Mailbox("contoso", "user01", "pw", false)
	mb := s.Content("contoso", u.ExchangeGuid)
	folders, err := s.Store.ListFolders(context.Background(), mb.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(s.Cfg.DataDir, "tmp")
	unchanged := func(what string) {
		t.Helper()
		now := s.Content("contoso", u.ExchangeGuid)
		fs, _ := s.Store.ListFolders(context.Background(), mb.ID, true)
		if now.ModSeq != mb.ModSeq || len(fs) != len(folders) || scenario.Take(t, s.Store, mb.ID).Count() != 0 {
			t.Fatalf("%s wrote to the mailbox: MODSEQ %d → %d, %d → %d folders", what, mb.ModSeq, now.ModSeq, len(folders), len(fs))
		}
		if es, _ := os.ReadDir(tmp); len(es) != 0 {
			t.Fatalf("%s left %d entries in %s", what, len(es), tmp)
		}
	}
	for _, c := range []struct{ format, tarFormat, member string }{
		{"emldir", "pax", "bomb.eml"},
		{"emldir", "gnu", "bomb.eml"},
		{"maildir", "pax", "cur/1700000000.1.host:2,S"},
		{"maildir", "gnu", "cur/1700000000.1.host:2,S"},
	} {
		b := sparseTar(t, c.tarFormat, c.member)
		if status, code := upload(t, s, c.format, b, int64(len(b))); status != http.StatusBadRequest || code != "SparseArchiveMember" {
			t.Errorf("%s in a %s tar: %d %s, want 400 SparseArchiveMember", c.format, c.tarFormat, status, code)
		}
		unchanged(c.format + " " + c.tarFormat + " sparse tar")
	}

	big := []byte("From a@b Mon Jan  1 00:00:00 2024\nSubject: big\n\n" + strings.Repeat("x", limit) + "\n")
	if status, code := upload(t, s, "mbox", big, int64(len(big))); status != http.StatusRequestEntityTooLarge || code != "ImportTooLarge" {
		t.Errorf("oversized mbox: %d %s, want 413 ImportTooLarge", status, code)
	}
	unchanged("an oversized mbox")
	small := []byte("From a@b Mon Jan  1 00:00:00 2024\nSubject: small\n\nhello\n")
	if status, code := upload(t, s, "mbox", small, -1); status != http.StatusBadRequest || code != "LengthRequired" {
		t.Errorf("chunked mbox: %d %s, want 400 LengthRequired", status, code)
	}
	unchanged("a chunked upload")
	// Within the limit, with its length declared, an import works.
	if status, code := upload(t, s, "mbox", small, int64(len(small))); status != http.StatusOK {
		t.Fatalf("small mbox: %d %s", status, code)
	}
	if n := scenario.Take(t, s.Store, mb.ID).Count(); n != 1 {
		t.Fatalf("%d items after the small import", n)
	}
}
