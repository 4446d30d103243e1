package server_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/server"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

func tarOf(t *testing.T, files map[string]string) *bytes.Buffer {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(data))
	}
	tw.Close()
	return &b
}

// importer imports an upload whose length is declared, as the API does.
func importer(s *scenario.Server) func(user, format, folder string, archive bool, b *bytes.Buffer) (any, error) {
	return func(user, format, folder string, archive bool, b *bytes.Buffer) (any, error) {
		return s.Admin.ImportMailbox(context.Background(), s.Op, "contoso", user, format, folder, archive, int64(b.Len()), b)
	}
}

func TestImport(t *testing.T) {
	s := scenario.Start(t, scenario.Options{SMTP: "off"})
	s.Tenant("contoso")
	u := s.Mailbox("contoso", "user01", "pw", true)
	imp := importer(s)
	mbox := "From a@b Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody\n\nFrom a@b Mon Jan  1 00:00:01 2024\nSubject: two\n\nbody\n"
	res, err := imp("user01", "mbox", "Old/Imported", true, bytes.NewBufferString(mbox))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if n := scenario.Take(t, s.Store, s.Content("contoso", u.ArchiveGuid).ID).Count(); n != 2 {
		t.Fatalf("archive has %d items", n)
	}
	if n := scenario.Take(t, s.Store, s.Content("contoso", u.ExchangeGuid).ID).Count(); n != 0 {
		t.Fatalf("primary has %d items", n)
	}
	// A directory of files arrives as a tar archive.
	if _, err := imp("user01", "emldir", "", false,
		tarOf(t, map[string]string{"a.eml": "Subject: a\r\n\r\nx", "sub/b.eml": "Subject: b\n\ny"})); err != nil {
		t.Fatal(err)
	}
	if n := scenario.Take(t, s.Store, s.Content("contoso", u.ExchangeGuid).ID).Count(); n != 2 {
		t.Fatalf("primary has %d items", n)
	}
	// Archives that try to leave the import directory are refused.
	for _, name := range []string{"../evil.eml", "/etc/evil.eml", "a/../../evil.eml"} {
		_, err := imp("user01", "emldir", "", false, tarOf(t, map[string]string{name: "x"}))
		if !errors.Is(err, server.ErrInvalidArchive) {
			t.Errorf("%s: got %v, want InvalidArchive", name, err)
		}
	}
	if _, err := imp("user01", "zip", "", false, bytes.NewBufferString("x")); !errors.Is(err, server.ErrInvalidImportFormat) {
		t.Errorf("unknown format: %v", err)
	}
	s.Mailbox("contoso", "user02", "pw", false)
	if _, err := imp("user02", "mbox", "", true, bytes.NewBufferString(mbox)); !errors.Is(err, admin.ErrNoArchive) {
		t.Errorf("archive of a mailbox without one: %v", err)
	}
}
