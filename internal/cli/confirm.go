package cli

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// confirmation is how a destructive verb makes sure: typed asks for the
// object's name (irreversible: a tenant's deletion, a cutover), else for
// "y". --yes skips the question; without a terminal (a script) the answer
// read is empty, so a script must pass --yes.
type confirmation struct {
	typed bool
	// warn says what the verb does to the named object.
	warn func(name string) string
}

// confirmed adds --yes to c and asks before its RunE runs: an answer that
// does not confirm refuses the command (InvalidArgument, exit 2) before
// anything is sent. The object's name is the command's first argument.
func (e *env) confirmed(c *cobra.Command, how confirmation) *cobra.Command {
	var yes bool
	run := c.RunE
	c.RunE = func(cmd *cobra.Command, a []string) error {
		if !yes {
			name := ""
			if len(a) > 0 {
				name = a[0]
			}
			if err := e.ask(name, how); err != nil {
				return err
			}
		}
		return run(cmd, a)
	}
	c.Flags().BoolVarP(&yes, "yes", "y", false, "do it without asking for confirmation (scripts)")
	c.Short += " (asks for confirmation, or --yes)"
	return c
}

// ask prints the question on stderr and reads the answer from stdin.
func (e *env) ask(name string, how confirmation) error {
	if how.typed {
		fmt.Fprintf(e.stderr, "%s. Type its name to confirm: ", how.warn(name))
	} else {
		fmt.Fprintf(e.stderr, "%s. Continue? [y/N] ", how.warn(name))
	}
	var line string
	if e.stdin != nil {
		line, _ = bufio.NewReader(e.stdin).ReadString('\n')
	}
	line = strings.TrimSpace(line)
	ok := line == name
	if !how.typed {
		ok = strings.EqualFold(line, "y") || strings.EqualFold(line, "yes")
	}
	if ok {
		return nil
	}
	fmt.Fprintln(e.stderr)
	what := "the name typed did not match"
	if !how.typed {
		what = "not confirmed"
	}
	return usageError("%s was left as it is: %s (pass --yes to skip the question)", name, what)
}
