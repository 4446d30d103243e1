// Package archtest holds the layering rules of tenantferry as data and
// checks them against the import graph read from the source files (its
// test runs them over the tree).
//
// Invariants (see Rules):
//   - internal/replication, the engine and wire format, depends on no
//     directory or identity code, directly or through another package,
//     and imports of this module only mailstore, db, errs and the
//     utility packages failpoint and httpx;
//   - no protocol adapter (api, replapi, imapd, smtpd, web, cli) imports
//     internal/db: adapters translate, the cores own the storage;
//   - internal/apitypes, the admin API's request and reply bodies shared
//     by server and client, imports no package of the module.
package archtest

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Graph maps a package path relative to the module root (e.g.
// "internal/replication") to the module packages it imports directly, in
// the same form.
type Graph map[string][]string

// Rule is one layering rule about a package's imports.
type Rule struct {
	// Package is the package the rule is about.
	Package string
	// Forbidden lists packages it must not import directly.
	Forbidden []string
	// ForbiddenDeep lists packages it must not depend on at all, directly
	// or through any other package of the module.
	ForbiddenDeep []string
	// Allowed, when not nil, lists every module package it may import
	// directly.
	Allowed []string
	// Why explains the rule in a violation.
	Why string
}

// Rules are tenantferry's layering rules.
var Rules = func() []Rule {
	rs := []Rule{{
		Package:       "internal/replication",
		ForbiddenDeep: []string{"internal/directory", "internal/identity"},
		Allowed:       []string{"internal/mailstore", "internal/db", "internal/errs", "internal/failpoint", "internal/httpx"},
		Why:           "the engine and wire format see a source only through replication.Source; the source side lives in internal/migration/source",
	}}
	rs = append(rs, Rule{Package: "internal/apitypes", Allowed: []string{},
		Why: "the admin API's shared request and reply types are a leaf: a client needs none of the server's code"})
	for _, a := range []string{"api", "replapi", "imapd", "smtpd", "web", "cli"} {
		rs = append(rs, Rule{Package: "internal/" + a, Forbidden: []string{"internal/db"},
			Why: "protocol adapters only translate; storage belongs to the cores"})
	}
	return rs
}()

// Check returns one line per violation of the rules in the graph, sorted;
// none means the graph keeps every rule. A rule about a package missing
// from the graph is a violation too (a renamed package must not silently
// escape its rule).
func Check(g Graph, rules []Rule) []string {
	var out []string
	for _, r := range rules {
		imports, ok := g[r.Package]
		if !ok {
			out = append(out, fmt.Sprintf("%s: package not found (rule: %s)", r.Package, r.Why))
			continue
		}
		for _, imp := range imports {
			if contains(r.Forbidden, imp) {
				out = append(out, fmt.Sprintf("%s imports %s (%s)", r.Package, imp, r.Why))
			}
			if r.Allowed != nil && !contains(r.Allowed, imp) && !contains(r.ForbiddenDeep, imp) {
				out = append(out, fmt.Sprintf("%s imports %s, which is not among %s (%s)", r.Package, imp, strings.Join(r.Allowed, ", "), r.Why))
			}
		}
		for _, bad := range r.ForbiddenDeep {
			if path := g.path(r.Package, bad); path != nil {
				out = append(out, fmt.Sprintf("%s depends on %s via %s (%s)", r.Package, bad, strings.Join(path, " → "), r.Why))
			}
		}
	}
	sort.Strings(out)
	return out
}

// path returns an import chain from one package to another, or nil.
func (g Graph) path(from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, q := range g[p] {
			if _, seen := prev[q]; seen {
				continue
			}
			prev[q] = p
			if q == to {
				var chain []string
				for x := q; x != ""; x = prev[x] {
					chain = append([]string{x}, chain...)
				}
				return chain
			}
			queue = append(queue, q)
		}
	}
	return nil
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// Load reads the import graph of the module rooted at root (the directory
// of go.mod): every package directory below root/internal and root/cmd,
// from the imports of its non-test Go files. Imports outside the module
// are left out.
func Load(root string) (Graph, error) {
	mod, err := modulePath(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, err
	}
	g := Graph{}
	fset := token.NewFileSet()
	for _, top := range []string{"internal", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, filepath.Dir(path))
			if err != nil {
				return err
			}
			pkg := filepath.ToSlash(rel)
			if _, ok := g[pkg]; !ok {
				g[pkg] = nil
			}
			for _, is := range f.Imports {
				imp, err := strconv.Unquote(is.Path.Value)
				if err != nil {
					return err
				}
				if local, ok := strings.CutPrefix(imp, mod+"/"); ok && !contains(g[pkg], local) {
					g[pkg] = append(g[pkg], local)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return g, nil
}

// modulePath reads the module path from a go.mod file.
func modulePath(gomod string) (string, error) {
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(m), `"`), nil
		}
	}
	return "", fmt.Errorf("%s has no module line", gomod)
}
