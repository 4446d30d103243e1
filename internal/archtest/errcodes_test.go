package archtest

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// codeMatch finds error codes matched as strings: errs.Is(err, "Code"),
// x.Code == "Code", errs.CodeOf(err) == "Code".
var codeMatch = regexp.MustCompile(`errs\.Is\([^,]+, "|\.Code [!=]= "[A-Z]|CodeOf\([^)]*\) [!=]= "`)

// TestNoStringCodeMatching (issue 8 item 3): production code matches error
// codes with errors.Is and the owning package's sentinel, never a string,
// so a typo cannot compile into a test that never matches. Wire-level
// codes of other systems (PostgreSQL SQLSTATE, S3) are not ours and are
// left out by their packages.
func TestNoStringCodeMatching(t *testing.T) {
	root := "../.."
	skip := map[string]bool{"internal/errs": true, "internal/db": true, "internal/blobstore/blobtest": true}
	err := filepath.WalkDir(filepath.Join(root, "internal"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if skip[filepath.ToSlash(filepath.Dir(rel))] {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if codeMatch.MatchString(line) {
				t.Errorf("%s:%d matches an error code as a string: %s", rel, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
