package cli

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"
)

// callFunc performs one API call. tp is the tenant path
// (/api/v1/tenants/{t}) for tenant-scoped commands, "" otherwise.
type callFunc func(ctx context.Context, c *client, tp string, args []string) ([]byte, error)

// apiCmd builds an admin command that performs one API call and prints the
// reply.
func (e *env) apiCmd(use, short string, args cobra.PositionalArgs, scoped bool, v view, call callFunc) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args,
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			cl, err := e.client()
			if err != nil {
				return err
			}
			tp := ""
			if scoped {
				if tp, err = e.tenantPath(ctx, cl); err != nil {
					return err
				}
			}
			raw, err := call(ctx, cl, tp, a)
			if err != nil {
				return err
			}
			return e.print(raw, v)
		},
	}
	if scoped {
		e.tenantFlag(c)
	}
	return c
}

// get, del and post are shorthands for call functions.
func get(path func(tp string, args []string) string) callFunc {
	return func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
		return c.do(ctx, http.MethodGet, path(tp, a), nil)
	}
}

func del(path func(tp string, args []string) string) callFunc {
	return func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
		return c.do(ctx, http.MethodDelete, path(tp, a), nil)
	}
}

// sub returns a path function appending a fixed suffix to the tenant path,
// and the first argument when withArg is set.
func sub(suffix string, withArg bool) func(tp string, args []string) string {
	return func(tp string, a []string) string {
		if withArg {
			return tp + suffix + "/" + esc(a[0])
		}
		return tp + suffix
	}
}

// group builds a parent command.
func group(use, short string, children ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short}
	c.AddCommand(children...)
	return c
}

// listCmd builds a command printing a paginated list (docs/api.md,
// Lists). By default it fetches every page and prints one list, as the
// unpaginated list was; --limit N prints one page of at most N rows and
// the cursor of the next page (on stderr, so that stdout stays a table,
// JSON or CSV), --cursor C the page at C.
func (e *env) listCmd(use, short string, args cobra.PositionalArgs, scoped bool, v view, path func(tp string, args []string) string) *cobra.Command {
	var limit int
	var cursor, next string
	c := e.apiCmd(use, short, args, scoped, v, func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
		if limit < 0 {
			return nil, usageError("--limit must be 1 to %d (or 0: every page)", maxPageSize)
		}
		if limit == 0 && cursor == "" {
			return c.all(ctx, path(tp, a))
		}
		b, n, err := c.page(ctx, path(tp, a), limit, cursor)
		next = n
		return b, err
	})
	c.PostRunE = func(*cobra.Command, []string) error {
		if next != "" {
			fmt.Fprintf(e.stderr, "NextCursor: %s\n(more rows follow: pass --cursor %s for the next page)\n", next, next)
		}
		return nil
	}
	c.Flags().IntVar(&limit, "limit", 0, fmt.Sprintf("print one page of at most N rows (1 to %d) and the cursor of the next; default: every row", maxPageSize))
	c.Flags().StringVar(&cursor, "cursor", "", "print the page at this cursor (the NextCursor of the previous page)")
	return c
}

// crud adds the list, show and delete commands of one resource kind.
func (e *env) crud(noun, path string, cols []string) []*cobra.Command {
	return []*cobra.Command{
		e.listCmd("list", "List "+plural(noun), cobra.NoArgs, true, view{cols}, sub(path, false)),
		e.apiCmd("show ID", "Show a "+noun, cobra.ExactArgs(1), true, view{}, get(sub(path, true))),
		e.confirmed(e.apiCmd("delete ID", "Delete a "+noun, cobra.ExactArgs(1), true, view{}, del(sub(path, true))),
			confirmation{warn: func(n string) string { return "This deletes " + noun + " " + n }}),
	}
}

// plural is the English plural of a command noun ("mailbox" → "mailboxes").
func plural(noun string) string {
	for _, end := range []string{"x", "s", "sh", "ch"} {
		if strings.HasSuffix(noun, end) {
			return noun + "es"
		}
	}
	return noun + "s"
}
