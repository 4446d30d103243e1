package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tenantferry/tenantferry/internal/apitypes"
	"github.com/tenantferry/tenantferry/internal/units"
)

func (e *env) tenantCmd() *cobra.Command {
	tenantPath := func(_ string, a []string) string { return "/api/v1/tenants/" + esc(a[0]) }
	return group("tenant", "Manage tenants (operator)",
		e.apiCmd("create NAME", "Create a tenant; prints its admin token once", cobra.ExactArgs(1), false, view{},
			func(ctx context.Context, c *client, _ string, a []string) ([]byte, error) {
				return c.do(ctx, http.MethodPost, "/api/v1/tenants", apitypes.TenantCreate{Name: a[0]})
			}),
		e.listCmd("list", "List tenants", cobra.NoArgs, false, view{[]string{"Name", "Id", "InitialDomain"}}, func(string, []string) string { return "/api/v1/tenants" }),
		e.apiCmd("show T", "Show a tenant", cobra.ExactArgs(1), false, view{}, get(tenantPath)),
		e.tenantSetCmd(tenantPath),
		e.tenantDeleteCmd(tenantPath),
		e.apiCmd("admin-token T", "Issue another tenant-admin token", cobra.ExactArgs(1), false, view{},
			func(ctx context.Context, c *client, _ string, a []string) ([]byte, error) {
				return c.do(ctx, http.MethodPost, tenantPath("", a)+"/admin-tokens", apitypes.AdminTokenCreate{Name: "cli"})
			}),
		e.tenantTokenCmd(),
	)
}

// tenantDeleteCmd is `tenant delete T`: it deletes every mailbox and
// object of the tenant, so it wants --yes, or the tenant's name typed at
// the prompt, and says what it deleted.
func (e *env) tenantDeleteCmd(tenantPath func(string, []string) string) *cobra.Command {
	c := e.apiCmd("delete T", "Delete a tenant and everything in it", cobra.ExactArgs(1), false, view{},
		func(ctx context.Context, c *client, _ string, a []string) ([]byte, error) {
			if _, err := c.do(ctx, http.MethodDelete, tenantPath("", a), nil); err != nil {
				return nil, err
			}
			return json.Marshal(map[string]string{"Deleted": a[0]})
		})
	c.Example = `  tenantferry tenant delete northwind
  tenantferry tenant delete northwind --yes    # in a script`
	return e.confirmed(c, confirmation{typed: true, warn: func(n string) string {
		return "This deletes tenant " + n + " with all its mailboxes, mail and settings"
	}})
}

// tenantSetCmd is `tenant set T --quota SIZE` (operator).
func (e *env) tenantSetCmd(tenantPath func(string, []string) string) *cobra.Command {
	var quota string
	c := e.apiCmd("set T", "Change a tenant: its quota over all its mailboxes", cobra.ExactArgs(1), false, view{},
		func(ctx context.Context, c *client, _ string, a []string) ([]byte, error) {
			q, err := quotaFlag(quota)
			if err != nil {
				return nil, err
			}
			return c.do(ctx, http.MethodPatch, tenantPath("", a), apitypes.TenantSet{Quota: q})
		})
	c.Flags().StringVar(&quota, "quota", "", "quota over all the tenant's mailboxes: 50GB, 500MB, a byte count, or unlimited")
	c.Example = "  tenantferry tenant set contoso --quota 500GB"
	return c
}

// quotaFlag parses a --quota value (nil when not given).
func quotaFlag(val string) (*int64, error) {
	if val == "" {
		return nil, nil
	}
	n, err := units.ParseBytes(val)
	if err != nil {
		return nil, usageError("--quota: %v", err)
	}
	return &n, nil
}

func (e *env) domainCmd() *cobra.Command {
	return group("domain", "Manage accepted domains",
		append([]*cobra.Command{
			e.domainAddCmd(),
			e.apiCmd("list", "List the tenant's domains (Verified or Pending)", cobra.NoArgs, true, view{[]string{"DomainName", "Status", "Default", "VerifiedBy"}}, get(sub("/domains", false))),
			e.confirmed(e.apiCmd("remove DOMAIN", "Remove an accepted domain or a pending one", cobra.ExactArgs(1), true, view{}, del(sub("/domains", true))),
				confirmation{warn: func(n string) string {
					return "This removes domain " + n + "; mail to its addresses is no longer accepted"
				}}),
			e.dkimCmd(),
		}, e.domainOwnershipCmds()...)...,
	)
}

// readSecretFlag returns the value of --X or the trimmed content of
// --X-file.
func readSecretFlag(val, file, name string) (string, error) {
	if val != "" && file != "" {
		return "", usageError("pass either --%s or --%s-file, not both", name, name)
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", usageError("cannot read --%s-file: %v", name, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return val, nil
}

var recipientCols = []string{"Name", "Alias", "PrimarySmtpAddress", "RecipientTypeDetails", "ExchangeGuid"}

func (e *env) mailboxCmd() *cobra.Command {
	var alias, name, display, first, last, primary, password, passwordFile, mbType, csvFile string
	var archive bool
	create := e.apiCmd("create", "Create a user or shared mailbox, or many from a CSV file", cobra.NoArgs, true, view{},
		func(ctx context.Context, c *client, tp string, _ []string) ([]byte, error) {
			if csvFile != "" {
				if alias != "" || name != "" || primary != "" || password != "" || passwordFile != "" || mbType != "" || archive {
					return nil, usageError("--csv takes every mailbox from the file: leave out the other flags")
				}
				f, err := os.Open(csvFile)
				if err != nil {
					return nil, usageError("cannot read --csv: %v", err)
				}
				defer f.Close()
				return c.doRaw(ctx, http.MethodPost, tp+"/mailboxes/bulk", "text/csv", f)
			}
			if alias == "" {
				return nil, usageError(`required flag(s) "alias" not set (or pass --csv FILE)`)
			}
			pw, err := readSecretFlag(password, passwordFile, "password")
			if err != nil {
				return nil, err
			}
			body := apitypes.Recipient{Alias: alias, Name: name, PrimarySmtpAddress: primary, Archive: archive, Password: optional(pw),
				Type: mbType, DisplayName: optional(display), FirstName: optional(first), LastName: optional(last)}
			return c.do(ctx, http.MethodPost, tp+"/mailboxes", body)
		})
	f := create.Flags()
	f.StringVar(&alias, "alias", "", "alias (local part of the default address); required without --csv")
	f.StringVar(&name, "name", "", "name (default: alias)")
	f.StringVar(&display, "display-name", "", "display name")
	f.StringVar(&first, "first-name", "", "first name")
	f.StringVar(&last, "last-name", "", "last name")
	f.StringVar(&primary, "primary-smtp", "", "primary SMTP address (default: alias@initial domain)")
	f.StringVar(&password, "password", "", "password for IMAP/SMTP login")
	f.StringVar(&passwordFile, "password-file", "", "file holding the password")
	f.BoolVar(&archive, "archive", false, "also create an archive mailbox")
	f.StringVar(&mbType, "type", "", "user (default; needs a password) or shared (no password; grant access with `mailbox permission add`)")
	f.StringVar(&csvFile, "csv", "", "create the mailboxes of a CSV file with the header Address,DisplayName,Password,PasswordHash,Quota "+
		"(Address required; Password or an argon2id PasswordHash optional: without one the mailbox cannot log in until a password is set); "+
		"all rows are checked first and nothing is created unless all are good")
	create.Example = `  tenantferry mailbox create --tenant contoso --alias user01 --password-file pw.txt --archive
  tenantferry mailbox create --tenant contoso --csv mailboxes.csv
  tenantferry mailbox create --tenant contoso --alias sales --type shared
  tenantferry mailbox permission add --tenant contoso sales --user user01@contoso.example --access-rights FullAccess`

	var sp, sDisplay, sPwFile, sFirst, sLast, sQuota string
	var sAdd, sRemove []string
	set := e.apiCmd("set ID", "Change a mailbox", cobra.ExactArgs(1), true, view{},
		func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
			pw, err := readSecretFlag(sp, sPwFile, "password")
			if err != nil {
				return nil, err
			}
			q, err := quotaFlag(sQuota)
			if err != nil {
				return nil, err
			}
			body := apitypes.Recipient{Password: optional(pw), DisplayName: optional(sDisplay), FirstName: optional(sFirst),
				LastName: optional(sLast), Quota: q, AddAddresses: sAdd, RemoveAddresses: sRemove}
			return c.do(ctx, http.MethodPatch, tp+"/mailboxes/"+esc(a[0]), body)
		})
	f = set.Flags()
	f.StringVar(&sp, "password", "", "new password")
	f.StringVar(&sPwFile, "password-file", "", "file holding the new password")
	f.StringVar(&sDisplay, "display-name", "", "new display name")
	f.StringVar(&sFirst, "first-name", "", "new first name")
	f.StringVar(&sLast, "last-name", "", "new last name")
	f.StringVar(&sQuota, "quota", "", "ProhibitSendReceiveQuota: 2GB, 500MB, a byte count, or unlimited")
	f.StringArrayVar(&sAdd, "add-address", nil, "add a proxy address (SMTP: makes it primary; X500:...); repeatable")
	f.StringArrayVar(&sRemove, "remove-address", nil, "remove a proxy address; repeatable")

	stats := e.apiCmd("stats ID", "Show folder statistics of a mailbox", cobra.ExactArgs(1), true, view{},
		get(func(tp string, a []string) string { return tp + "/mailboxes/" + esc(a[0]) + "/stats" }))
	cmds := append([]*cobra.Command{create, set, stats, e.importCmd(), e.permissionCmd()}, e.crud("mailbox", "/mailboxes", recipientCols)...)
	return group("mailbox", "Manage user and shared mailboxes", cmds...)
}

// optional returns a request field sent only when v is not empty.
func optional(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

func (e *env) mailuserCmd() *cobra.Command {
	var name, alias, primary, external, display, eg, ag, password string
	var add []string
	create := e.apiCmd("create", "Create a mail user", cobra.NoArgs, true, view{},
		func(ctx context.Context, c *client, tp string, _ []string) ([]byte, error) {
			body := apitypes.Recipient{Name: name, Alias: alias, PrimarySmtpAddress: primary, ExternalEmailAddress: &external,
				DisplayName: optional(display), ExchangeGuid: optional(eg), ArchiveGuid: optional(ag), Password: optional(password), AddAddresses: add}
			return c.do(ctx, http.MethodPost, tp+"/mailusers", body)
		})
	f := create.Flags()
	f.StringVar(&name, "name", "", "name; required")
	f.StringVar(&alias, "alias", "", "alias; required")
	f.StringVar(&primary, "primary-smtp", "", "primary SMTP address; required")
	f.StringVar(&external, "external-email", "", "external email address (where mail is forwarded); required")
	f.StringVar(&display, "display-name", "", "display name")
	f.StringVar(&eg, "exchange-guid", "", "ExchangeGuid (stamp the source mailbox's GUID for a move)")
	f.StringVar(&ag, "archive-guid", "", "ArchiveGuid")
	f.StringArrayVar(&add, "add-address", nil, "extra proxy address (smtp:... or X500:...); repeatable")
	f.StringVar(&password, "password", "", "password (used once the mail user becomes a mailbox)")

	var sEG, sAG, sExt, sQuota string
	var sAdd, sRemove []string
	set := e.apiCmd("set ID", "Change a mail user", cobra.ExactArgs(1), true, view{},
		func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
			q, err := quotaFlag(sQuota)
			if err != nil {
				return nil, err
			}
			body := apitypes.Recipient{Quota: q, ExchangeGuid: optional(sEG), ArchiveGuid: optional(sAG), ExternalEmailAddress: optional(sExt),
				AddAddresses: sAdd, RemoveAddresses: sRemove}
			return c.do(ctx, http.MethodPatch, tp+"/mailusers/"+esc(a[0]), body)
		})
	f = set.Flags()
	f.StringVar(&sEG, "exchange-guid", "", "ExchangeGuid")
	f.StringVar(&sAG, "archive-guid", "", "ArchiveGuid")
	f.StringVar(&sExt, "external-email", "", "external email address")
	f.StringVar(&sQuota, "quota", "", "quota of the mailbox a move brings it: 2GB, 500MB, a byte count, or unlimited")
	f.StringArrayVar(&sAdd, "add-address", nil, "add a proxy address (smtp:..., SMTP:..., X500:...); repeatable")
	f.StringArrayVar(&sRemove, "remove-address", nil, "remove a proxy address; repeatable")

	cmds := append([]*cobra.Command{create, set, e.prepareCmd()}, e.crud("mail user", "/mailusers", recipientCols)...)
	return group("mailuser", "Manage mail users", cmds...)
}

func (e *env) groupCmd() *cobra.Command {
	var name, alias, typ string
	create := e.apiCmd("create", "Create a mail-enabled group", cobra.NoArgs, true, view{},
		func(ctx context.Context, c *client, tp string, _ []string) ([]byte, error) {
			return c.do(ctx, http.MethodPost, tp+"/groups", apitypes.Recipient{Name: name, Alias: alias, Type: typ})
		})
	create.Flags().StringVar(&name, "name", "", "group name; required")
	create.Flags().StringVar(&alias, "alias", "", "alias (default: from the name)")
	create.Flags().StringVar(&typ, "type", "", "security or distribution; required")
	add := e.apiCmd("add-member G M", "Add member M to group G (prints the change, not the group)", cobra.ExactArgs(2), true, view{},
		func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
			return c.do(ctx, http.MethodPost, tp+"/groups/"+esc(a[0])+"/members", apitypes.GroupMemberAdd{Member: a[1]})
		})
	remove := e.apiCmd("remove-member G M", "Remove member M from group G (prints the change)", cobra.ExactArgs(2), true, view{},
		func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
			return c.do(ctx, http.MethodDelete, tp+"/groups/"+esc(a[0])+"/members/"+esc(a[1]), nil)
		})
	members := e.listCmd("members G", "List the direct members of group G", cobra.ExactArgs(1), true, view{recipientCols},
		func(tp string, a []string) string { return tp + "/groups/" + esc(a[0]) + "/members" })
	cmds := append([]*cobra.Command{create, add, remove, members}, e.crud("group", "/groups", []string{"Name", "Alias", "PrimarySmtpAddress", "RecipientTypeDetails"})...)
	return group("group", "Manage groups", cmds...)
}
