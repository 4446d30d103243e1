package archtest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// designRef matches a citation of a design document outside the
// repository (DESIGN §N, DESIGN.md), which a user who clones the
// repository cannot read.
var designRef = regexp.MustCompile(`DESIGN( §|\.md)`)

// archRef matches a citation of a section of docs/architecture.md.
var archRef = regexp.MustCompile(`docs/architecture\.md §(\d+)`)

// TestDesignReferencesInRepo holds every design reference in the code and
// docs to docs/architecture.md, and every cited section to one that exists.
func TestDesignReferencesInRepo(t *testing.T) {
	root := "../.."
	arch, err := os.ReadFile(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^## §(\d+) `).FindAllStringSubmatch(string(arch), -1) {
		sections[m[1]] = true
	}
	if len(sections) < 12 {
		t.Fatalf("docs/architecture.md has %d numbered sections, want §1–§12", len(sections))
	}
	for _, v := range checkDocRefs(t, root, sections) {
		t.Error(v)
	}
}

// checkDocRefs lists the bad references in the tree's .go and .md files.
func checkDocRefs(t *testing.T, root string, sections map[string]bool) []string {
	var bad []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".md")) || strings.HasSuffix(path, "docrefs_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		bad = append(bad, badRefs(rel, string(b), sections)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return bad
}

// badRefs lists the bad references of one file's text.
func badRefs(name, text string, sections map[string]bool) []string {
	var bad []string
	for i, line := range strings.Split(text, "\n") {
		if designRef.MatchString(line) {
			bad = append(bad, fmt.Sprintf("%s:%d:", name, i+1)+" cites a design document outside the repository; cite docs/architecture.md §N")
		}
		for _, m := range archRef.FindAllStringSubmatch(line, -1) {
			if !sections[m[1]] {
				bad = append(bad, fmt.Sprintf("%s:%d:", name, i+1)+" cites docs/architecture.md §"+m[1]+", which does not exist")
			}
		}
	}
	return bad
}

// TestDocRefsCatchViolations shows that a stray reference fails the check.
func TestDocRefsCatchViolations(t *testing.T) {
	sections := map[string]bool{"1": true}
	if got := badRefs("x.go", "// see DESIGN §4", sections); len(got) != 1 {
		t.Errorf("DESIGN §4 not caught: %v", got)
	}
	if got := badRefs("x.md", "see docs/architecture.md §99", sections); len(got) != 1 {
		t.Errorf("a missing section not caught: %v", got)
	}
	if got := badRefs("x.md", "see docs/architecture.md §1", sections); len(got) != 0 {
		t.Errorf("a good reference refused: %v", got)
	}
}
