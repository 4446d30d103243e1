package db_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// tableOwners names the one package that owns each table: only its
// non-test code reads or writes the table; other packages call its
// functions. Test code and test-support packages (testSupport) may seed
// and inspect any table.
var tableOwners = map[string]string{
	"settings": "internal/db",
	// directory: tenants, their domains, recipients, apps and trust
	"tenants": "internal/directory", "domains": "internal/directory", "domain_claims": "internal/directory",
	"recipients": "internal/directory", "proxies": "internal/directory", "group_members": "internal/directory",
	"mailbox_permissions": "internal/directory", "admin_tokens": "internal/directory", "apps": "internal/directory",
	"app_secrets": "internal/directory", "consents": "internal/directory", "orgrels": "internal/directory",
	"endpoints": "internal/directory",
	"audit":     "internal/admin",
	// identity: the issuer's keys
	"signing_keys": "internal/identity",
	// blob store
	"blobs": "internal/blobstore", "blob_data": "internal/blobstore", "blob_containers": "internal/blobstore",
	// mailbox content
	"mailboxes": "internal/mailstore", "folders": "internal/mailstore", "items": "internal/mailstore", "tombstones": "internal/mailstore",
	"message_parts": "internal/mailstore",
	// mail queue
	"queue_messages": "internal/delivery", "queue_recipients": "internal/delivery",
	"dkim_keys": "internal/mailauth",
	"nodes":     "internal/jobs",
	// migrations, target side
	"batches": "internal/migration", "moves": "internal/migration", "move_slots": "internal/migration", "move_slot_waiters": "internal/migration", "move_log": "internal/migration", "move_skipped": "internal/migration", "password_links": "internal/migration", "migration_templates": "internal/migration",
	"sync_state": "internal/migration", "imap_credentials": "internal/migration", "dav_items": "internal/migration",
	// migrations, source side and IMAP sources
	"move_registrations": "internal/migration/source",
	"river_job":          "internal/jobs", // River's own table: the job runner
	"imap_folders":       "internal/replication/imapsrc", "imap_items": "internal/replication/imapsrc", "imap_mirror": "internal/replication/imapsrc",
}

// testSupport are packages of test helpers (not linked into the server).
var testSupport = []string{"internal/blobstore/blobtest", "internal/db/dbtest", "internal/testsupport"}

var (
	sqlStatement = regexp.MustCompile(`\b(SELECT|INSERT INTO|UPDATE|DELETE FROM)\b`)
	// After FROM or JOIN, a name followed by "(" is a set-returning function
	// (FROM unnest(...)), not a table; group 2 tells them apart (after INTO
	// it opens the column list).
	sqlTable    = regexp.MustCompile(`\b(?:FROM|JOIN|INTO|UPDATE)\s+([a-z_][a-z0-9_]*)(\s*\()?`)
	createTable = regexp.MustCompile(`CREATE TABLE (?:IF NOT EXISTS )?([a-z_][a-z0-9_]*)`)
	// cteName finds the names a statement defines itself (WITH name AS,
	// WITH name(cols) AS), which are not tables.
	cteName = regexp.MustCompile(`(?:\bWITH\s+(?:RECURSIVE\s+)?|,\s*)([a-z_][a-z0-9_]*)\s*(?:\([^)]*\))?\s+AS\s*\(`)
)

// ownershipViolations checks Go sources (package directory → file name →
// source) against owners and returns one line per statement touching a
// table outside its owner, or a table no owner is declared for.
func ownershipViolations(t *testing.T, sources map[string]map[string]string, owners map[string]string) []string {
	t.Helper()
	var out []string
	for pkg, files := range sources {
		for name, src := range files {
			f, err := parser.ParseFile(token.NewFileSet(), name, src, 0)
			if err != nil {
				t.Fatalf("%s/%s: %v", pkg, name, err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				// A statement is a literal, or a concatenation of literals
				// and expressions (analyzed as one text).
				var s string
				switch e := n.(type) {
				case *ast.BinaryExpr:
					if e.Op != token.ADD {
						return true
					}
					s = literalText(e)
				case *ast.BasicLit:
					s = literalText(e)
				default:
					return true
				}
				if !sqlStatement.MatchString(s) {
					return true
				}
				local := map[string]bool{}
				for _, m := range cteName.FindAllStringSubmatch(s, -1) {
					local[m[1]] = true
				}
				for _, m := range sqlTable.FindAllStringSubmatch(s, -1) {
					owner, known := owners[m[1]]
					switch {
					case local[m[1]], m[2] != "" && !strings.HasPrefix(m[0], "INTO") && !strings.HasPrefix(m[0], "UPDATE"):
					case !known:
						out = append(out, pkg+"/"+name+": table "+m[1]+" has no declared owner (add it to tableOwners)")
					case owner != pkg:
						out = append(out, pkg+"/"+name+": touches "+m[1]+", owned by "+owner)
					}
				}
				return false
			})
		}
	}
	out = dedupe(out)
	sort.Strings(out)
	return out
}

// literalText is the text of a string literal, or of a concatenation
// with its non-literal operands as blanks.
func literalText(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			if s, err := strconv.Unquote(e.Value); err == nil {
				return s
			}
		}
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			return literalText(e.X) + literalText(e.Y)
		}
	case *ast.ParenExpr:
		return literalText(e.X)
	}
	return " "
}

// dedupe drops repeated lines of a sorted-to-be list.
func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// moduleSources reads the non-test Go files of the module's packages
// (test-support packages aside), by package directory.
func moduleSources(t *testing.T, root string) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			for _, ts := range testSupport {
				if rel == ts || strings.HasPrefix(rel, ts+"/") {
					return filepath.SkipDir
				}
			}
			if strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		if out[dir] == nil {
			out[dir] = map[string]string{}
		}
		out[dir][filepath.Base(p)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTableOwnership (issue 8 item 2): every SQL statement in the
// module's non-test code touches only tables its own package owns, every
// table the migrations create has an owner, and every owner is a package.
func TestTableOwnership(t *testing.T) {
	root := filepath.Join("..", "..")
	sources := moduleSources(t, root)
	if v := ownershipViolations(t, sources, tableOwners); len(v) > 0 {
		t.Errorf("%d statements reach tables of other packages:\n%s", len(v), strings.Join(v, "\n"))
	}
	for _, dialect := range []string{"sqlite", "postgres"} {
		dir := filepath.Join("migrations", dialect)
		es, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			for _, m := range createTable.FindAllStringSubmatch(string(b), -1) {
				if _, ok := tableOwners[m[1]]; !ok {
					t.Errorf("%s/%s creates table %s, which has no declared owner", dialect, e.Name(), m[1])
				}
			}
		}
	}
	for table, owner := range tableOwners {
		if _, ok := sources[owner]; !ok {
			t.Errorf("table %s: owner %s is not a package of the module", table, owner)
		}
	}
}

// TestTableOwnershipCatches: a deliberate violation (delivery reading the
// mailstore's items) and a table with no owner are reported; the owner's
// own statement is not.
func TestTableOwnershipCatches(t *testing.T) {
	sources := map[string]map[string]string{
		"internal/delivery": {"bad.go": "package delivery\nconst q = `SELECT id FROM items i JOIN folders f ON f.id = i.folder_id`\n"},
		"internal/mailstore": {"ok.go": "package mailstore\nconst q = `SELECT id FROM items WHERE mailbox_id = ?`\n" +
			"const r = `INSERT INTO mystery (a) VALUES (?)`\n"},
	}
	got := ownershipViolations(t, sources, map[string]string{"items": "internal/mailstore", "folders": "internal/mailstore"})
	want := []string{
		"internal/delivery/bad.go: touches folders, owned by internal/mailstore",
		"internal/delivery/bad.go: touches items, owned by internal/mailstore",
		"internal/mailstore/ok.go: table mystery has no declared owner (add it to tableOwners)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
