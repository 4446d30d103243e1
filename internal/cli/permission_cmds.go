package cli

import (
	"context"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/tenantferry/tenantferry/internal/apitypes"
)

// permissionCols are the columns of `mailbox permission list`.
var permissionCols = []string{"Identity", "User", "AccessRights"}

// permissionCmd is `mailbox permission add|remove|list MAILBOX --user
// ADDRESS --access-rights FullAccess|SendAs` (Add-MailboxPermission,
// Add-RecipientPermission and their Get/Remove forms).
func (e *env) permissionCmd() *cobra.Command {
	var user, right string
	flags := func(c *cobra.Command) *cobra.Command {
		c.Flags().StringVar(&user, "user", "", "the user (a mailbox of the tenant) the right is granted to; required")
		c.Flags().StringVar(&right, "access-rights", "", "FullAccess (open the mailbox over IMAP and CalDAV/CardDAV) or SendAs (send with its address); required")
		c.MarkFlagRequired("user")
		c.MarkFlagRequired("access-rights")
		return c
	}
	path := func(tp, mailbox string) string { return tp + "/mailboxes/" + esc(mailbox) + "/permissions" }
	add := flags(e.apiCmd("add MAILBOX", "Grant a user FullAccess or SendAs on a mailbox", cobra.ExactArgs(1), true, view{permissionCols},
		func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
			return c.do(ctx, http.MethodPost, path(tp, a[0]), apitypes.PermissionAdd{User: user, AccessRights: right})
		}))
	add.Example = `  tenantferry mailbox permission add --tenant contoso sales --user user01@contoso.example --access-rights FullAccess
  tenantferry mailbox permission add --tenant contoso sales --user user01@contoso.example --access-rights SendAs`
	remove := flags(e.apiCmd("remove MAILBOX", "Withdraw a user's FullAccess or SendAs on a mailbox", cobra.ExactArgs(1), true, view{},
		func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
			return c.do(ctx, http.MethodDelete, path(tp, a[0])+"/"+esc(user)+"/"+esc(right), nil)
		}))
	remove.Example = `  tenantferry mailbox permission remove --tenant contoso sales --user user01@contoso.example --access-rights SendAs`
	list := e.apiCmd("list MAILBOX", "List the permissions granted on a mailbox", cobra.ExactArgs(1), true, view{permissionCols},
		get(func(tp string, a []string) string { return path(tp, a[0]) }))
	list.Example = `  tenantferry mailbox permission list --tenant contoso sales`
	return group("permission", "Manage who may open a mailbox (FullAccess) or send as it (SendAs)", add, remove, list)
}
