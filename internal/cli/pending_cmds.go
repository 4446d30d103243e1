package cli

import (
	"github.com/spf13/cobra"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// notYet is a placeholder for commands of later issues.
func notYet(use string) *cobra.Command {
	return &cobra.Command{Use: use, RunE: func(*cobra.Command, []string) error {
		return errs.New(errs.Unavailable, "NotImplemented", "%s is not implemented yet", use)
	}}
}

func (e *env) importCmd() *cobra.Command       { return notYet("import ID") }
func (e *env) prepareCmd() *cobra.Command      { return notYet("prepare") }
func (e *env) endpointTestCmd() *cobra.Command { return notYet("test N") }
