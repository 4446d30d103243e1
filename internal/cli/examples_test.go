package cli

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestExamples: every command has an Examples section, and every example
// line names an existing command with flags it has, its required flags
// and as many arguments as it takes — so examples cannot rot.
func TestExamples(t *testing.T) {
	root := (&env{getenv: func(string) string { return "" }}).rootCmd()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, s := range c.Commands() {
			walk(s)
		}
		if !c.Runnable() || c.Hidden || c.Name() == "help" || c.Name() == "completion" || (c.Parent() != nil && c.Parent().Name() == "completion") {
			return
		}
		if c.Example == "" {
			t.Errorf("%s has no Examples section", c.CommandPath())
			return
		}
		for _, line := range exampleLines(c.Example) {
			checkExample(t, c, line)
		}
	}
	walk(root)
}

// exampleLines returns an Examples section's command lines, continuation
// lines joined and comments dropped.
func exampleLines(ex string) []string {
	var out []string
	cur := ""
	for _, l := range strings.Split(ex, "\n") {
		l = strings.TrimSpace(l)
		if i := strings.Index(l, " #"); i >= 0 {
			l = strings.TrimSpace(l[:i])
		}
		if strings.HasSuffix(l, `\`) {
			cur += strings.TrimSuffix(l, `\`) + " "
			continue
		}
		cur += l
		if strings.HasPrefix(cur, "tenantferry ") {
			out = append(out, cur)
		}
		cur = ""
	}
	return out
}

// checkExample parses one example line against the command tree.
func checkExample(t *testing.T, owner *cobra.Command, line string) {
	t.Helper()
	words := shellWords(line)
	if i := indexOf(words, ">"); i >= 0 {
		words = words[:i]
	}
	root := (&env{getenv: func(string) string { return "" }}).rootCmd()
	c, rest, err := root.Find(words[1:])
	if c == root && len(rest) == 1 && rest[0] == "--version" {
		return // the root's own flag
	}
	if err != nil || c == root {
		t.Errorf("%s: example %q names no command: %v", owner.CommandPath(), line, err)
		return
	}
	if err := c.ParseFlags(rest); err != nil {
		t.Errorf("%s: example %q: %v", owner.CommandPath(), line, err)
		return
	}
	if err := c.ValidateArgs(c.Flags().Args()); err != nil {
		t.Errorf("%s: example %q: %v", owner.CommandPath(), line, err)
	}
	if err := c.ValidateRequiredFlags(); err != nil {
		t.Errorf("%s: example %q: %v", owner.CommandPath(), line, err)
	}
}

// shellWords splits a command line at spaces, keeping "quoted words".
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	in, has := false, false
	for _, r := range s {
		switch {
		case r == '"':
			in, has = !in, true
		case r == ' ' && !in:
			if has {
				out = append(out, cur.String())
				cur.Reset()
				has = false
			}
		default:
			cur.WriteRune(r)
			has = true
		}
	}
	if has {
		out = append(out, cur.String())
	}
	return out
}

// indexOf is the index of w in ws, or -1.
func indexOf(ws []string, w string) int {
	for i, x := range ws {
		if x == w {
			return i
		}
	}
	return -1
}
