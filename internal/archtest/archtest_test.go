package archtest

import (
	"strings"
	"testing"
)

// TestLayering holds the tree to Rules: run over the real import graph,
// it lists every violation.
func TestLayering(t *testing.T) {
	g, err := Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	if len(g) < 20 {
		t.Fatalf("only %d packages found: is the module root right?", len(g))
	}
	for _, v := range Check(g, Rules) {
		t.Error(v)
	}
}

// TestRulesCatchViolations feeds Check synthetic graphs with each kind of
// violation, to show that a deliberate one makes TestLayering fail.
func TestRulesCatchViolations(t *testing.T) {
	clean := func() Graph {
		return Graph{
			"internal/replication": {"internal/mailstore", "internal/db", "internal/errs"},
			"internal/mailstore":   {"internal/blobstore", "internal/db", "internal/errs"},
			"internal/blobstore":   {"internal/db", "internal/errs"},
			"internal/db":          nil, "internal/errs": nil, "internal/httpx": {"internal/errs"},
			"internal/directory": {"internal/db", "internal/errs", "internal/identity"},
			"internal/identity":  {"internal/db", "internal/errs"},
			"internal/api":       {"internal/admin", "internal/httpx"},
			"internal/replapi":   {"internal/httpx"}, "internal/imapd": {"internal/mailstore"},
			"internal/smtpd": nil, "internal/web": nil, "internal/cli": {"internal/server"},
			"internal/server": {"internal/db"}, "internal/admin": {"internal/db"},
			"internal/apitypes": nil,
		}
	}
	if v := Check(clean(), Rules); len(v) != 0 {
		t.Fatalf("a clean graph: %v", v)
	}
	for _, c := range []struct {
		name string
		edit func(Graph)
		want string
	}{
		{"replication imports directory", func(g Graph) {
			g["internal/replication"] = append(g["internal/replication"], "internal/directory")
		}, "internal/replication depends on internal/directory via internal/replication → internal/directory"},
		{"replication reaches identity through mailstore", func(g Graph) {
			g["internal/mailstore"] = append(g["internal/mailstore"], "internal/identity")
		}, "internal/replication depends on internal/identity via internal/replication → internal/mailstore → internal/identity"},
		{"replication imports another core", func(g Graph) {
			g["internal/replication"] = append(g["internal/replication"], "internal/delivery")
		}, "internal/replication imports internal/delivery, which is not among"},
		{"an adapter imports db", func(g Graph) {
			g["internal/imapd"] = append(g["internal/imapd"], "internal/db")
		}, "internal/imapd imports internal/db"},
		{"the replication adapter imports db", func(g Graph) {
			g["internal/replapi"] = append(g["internal/replapi"], "internal/db")
		}, "internal/replapi imports internal/db"},
		{"the shared API types import the server's code", func(g Graph) {
			g["internal/apitypes"] = append(g["internal/apitypes"], "internal/directory")
		}, "internal/apitypes imports internal/directory, which is not among"},
		{"a ruled package disappears", func(g Graph) { delete(g, "internal/web") }, "internal/web: package not found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := clean()
			c.edit(g)
			v := Check(g, Rules)
			found := false
			for _, x := range v {
				found = found || strings.HasPrefix(x, c.want)
			}
			if !found {
				t.Fatalf("violation %q not reported; got %v", c.want, v)
			}
		})
	}
}
