// Package cli implements the tenantferry command line: `serve`, `demo`,
// `bench`, and the admin commands, which are clients of the HTTP API.
//
// Invariants:
//   - Admin commands never touch the database; they call the API, so the
//     CLI, the web UI and scripts share one set of rules (internal/admin).
//   - The command and flag names of CLI (docs/architecture.md §1) are stable.
//   - Errors exit non-zero and print "CODE: message" on stderr.
package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/spf13/pflag"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// env is the environment of one CLI invocation.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	server         string
	token          string
	output         string
	tenant         string
	getenv         func(string) string
	// started is set once argument parsing succeeded and a command runs.
	started bool
}

// Main runs the CLI with args and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	root := e.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		if errs.As(err) == nil {
			code := "InvalidArgument" // parsing failed before the command ran
			if e.started && !strings.HasPrefix(err.Error(), "required flag(s)") {
				code = "CommandFailed"
			}
			kind := errs.Internal
			if code == "InvalidArgument" {
				kind = errs.Invalid
			}
			err = errs.New(kind, code, "%v", err)
		}
		printError(stderr, err, e.output)
		return exitCode(err)
	}
	return ExitOK
}

// printError prints "CODE: message" (and the hint) for an error, or with
// -o json / -o yaml the object {"Code","Message","Hint"} for scripts (the
// CLI's own form of any failure, API problems included: Message is the
// problem's detail).
func printError(w io.Writer, err error, output string) {
	var ce *errs.Error
	if output == "json" || output == "yaml" {
		body := struct{ Code, Message, Hint string }{Code: "CommandFailed", Message: err.Error()}
		if errors.As(err, &ce) {
			body.Code, body.Message, body.Hint = ce.Code, ce.Message, ce.Hint
		}
		b, _ := json.Marshal(body)
		if output == "yaml" && printYAML(w, b) == nil {
			return
		}
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	if errors.As(err, &ce) {
		fmt.Fprintf(w, "%s: %s\n", ce.Code, ce.Message)
		if ce.Hint != "" {
			fmt.Fprintf(w, "  hint: %s\n", ce.Hint)
		}
		return
	}
	fmt.Fprintf(w, "CommandFailed: %v\n", err)
}

func (e *env) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "tenantferry",
		Short:         "Multi-tenant mail platform with cross-tenant mailbox migration",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			e.started = true
			// Check -o before a command acts: a create must not succeed
			// and then report a usage error.
			if e.output != "table" && e.output != "json" && e.output != "csv" && e.output != "yaml" {
				return usageError("-o must be table, json, yaml or csv, not %q", e.output)
			}
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&e.server, "server", "", "server URL (env TENANTFERRY_SERVER, default http://127.0.0.1:8080)")
	pf.StringVar(&e.token, "token", "", "API token (env TENANTFERRY_TOKEN, default: ./tenantferry-data/operator.token)")
	pf.StringVarP(&e.output, "output", "o", "table", "output format: table, json, yaml or csv")
	root.AddCommand(e.serveCmd(), e.storageCmd(), e.tenantCmd(), e.domainCmd(), e.mailboxCmd(), e.mailuserCmd(), e.groupCmd(),
		e.appCmd(), e.consentCmd(), e.orgrelCmd(), e.endpointCmd(), e.batchCmd(), e.migrationUserCmd(), e.moveCmd(), e.templateCmd(), e.moveRegistrationCmd(), e.benchCmd(), e.demoCmd(), e.versionCmd(), e.healthcheckCmd(),
		e.operatorTokenCmd())
	root.Version = buildVersion().Version
	root.SetVersionTemplate("tenantferry {{.Version}}\n")
	markRequired(root)
	e.addCompletions(root)
	addExamples(root)
	return root
}

// usageError reports bad command-line usage with a stable code.
func usageError(format string, args ...any) error {
	return errs.Invalidf("InvalidArgument", format, args...)
}

// tenantFlag adds --tenant to a tenant-scoped command.
func (e *env) tenantFlag(c *cobra.Command) *cobra.Command {
	c.Flags().StringVar(&e.tenant, "tenant", "", "tenant NAME, ID or DOMAIN (default: the tenant of a tenant-admin token)")
	return c
}

// markRequired makes every flag whose help ends in "; required" required
// by cobra, so that a command missing several names them all at once
// (before anything is sent).
func markRequired(c *cobra.Command) {
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if strings.HasSuffix(f.Usage, "; required") {
			c.MarkFlagRequired(f.Name)
		}
	})
	for _, sub := range c.Commands() {
		markRequired(sub)
	}
}
