package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/spf13/cobra"
)

// Dynamic shell completion (`tenantferry completion bash|zsh|fish`): the
// names of tenants, batches, endpoints, mailboxes, mail users, groups and
// migration users are asked from the server the CLI talks to, with the
// same --server/--token/--tenant as the command being typed. A failure
// (no server, no token) completes nothing and never prints an error.

// completer lists the names a positional argument or flag can take.
type completer struct {
	path  string // under the tenant's path, or absolute when tenant is false
	field string // the reply's field holding the name
	// scoped: path is under /api/v1/tenants/T.
	scoped bool
}

// argCompleters completes the first argument of commands by their group.
var argCompleters = map[string]completer{
	"batch":         {path: "/batches", field: "Name", scoped: true},
	"endpoint":      {path: "/endpoints", field: "Name", scoped: true},
	"orgrel":        {path: "/orgrels", field: "Name", scoped: true},
	"mailbox":       {path: "/mailboxes", field: "Alias", scoped: true},
	"mailuser":      {path: "/mailusers", field: "Alias", scoped: true},
	"group":         {path: "/groups", field: "Name", scoped: true},
	"migrationuser": {path: "/migration-users", field: "EmailAddress", scoped: true},
	"domain":        {path: "/domains", field: "DomainName", scoped: true},
	"tenant":        {path: "/api/v1/tenants", field: "Name"},
}

// flagCompleters completes flags by name, on every command that has them.
var flagCompleters = map[string]completer{
	"tenant":   {path: "/api/v1/tenants", field: "Name"},
	"endpoint": {path: "/endpoints", field: "Name", scoped: true},
}

// addCompletions walks the command tree and attaches the completers.
func (e *env) addCompletions(c *cobra.Command) {
	for _, sub := range c.Commands() {
		e.addCompletions(sub)
	}
	for name, comp := range flagCompleters {
		if c.Flags().Lookup(name) != nil {
			c.RegisterFlagCompletionFunc(name, e.complete(comp))
		}
	}
	if c.ValidArgsFunction != nil || c.Parent() == nil || !strings.Contains(c.Use, " ") {
		return
	}
	if comp, ok := argCompleters[c.Parent().Name()]; ok {
		f := e.complete(comp)
		c.ValidArgsFunction = func(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return f(cmd, args, prefix)
		}
	}
}

// complete returns the completion function of a completer.
func (e *env) complete(comp completer) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		names, err := e.names(cmd.Context(), comp)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		var out []string
		for _, n := range names {
			if strings.HasPrefix(strings.ToLower(n), strings.ToLower(prefix)) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// names asks the server for the names of a completer's objects.
func (e *env) names(ctx context.Context, comp completer) ([]string, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	cl, err := e.client()
	if err != nil {
		return nil, err
	}
	path := comp.path
	if comp.scoped {
		tp, err := e.tenantPath(ctx, cl)
		if err != nil {
			return nil, err
		}
		path = tp + path
	}
	raw, err := cl.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	var rows []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, err
	}
	var out []string
	for _, r := range rows {
		var s string
		if json.Unmarshal(r[comp.field], &s) == nil && s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}
