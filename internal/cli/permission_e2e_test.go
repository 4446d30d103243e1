package cli_test

import (
	"testing"
)

// TestSharedMailboxAndPermissions drives `mailbox create --type shared` and
// `mailbox permission add|remove|list` through the real binary and API:
// a shared mailbox has no password, permissions are idempotent grants
// listed per mailbox, every bad input is refused with its code and writes
// nothing, and another tenant's admin can neither read nor grant them.
func TestSharedMailboxAndPermissions(t *testing.T) {
	s := serve(t)
	op := s.as(t, s.op)
	var contoso, fabrikam struct{ Id, AdminToken string }
	op.json(&contoso, "tenant", "create", "contoso")
	op.json(&fabrikam, "tenant", "create", "fabrikam")
	src := s.as(t, contoso.AdminToken)

	var sales struct{ RecipientTypeDetails, PrimarySmtpAddress string }
	src.json(&sales, "mailbox", "create", "--tenant", "contoso", "--alias", "sales", "--type", "shared")
	if sales.RecipientTypeDetails != "SharedMailbox" {
		t.Fatalf("shared mailbox: %+v", sales)
	}
	src.fail("SharedMailboxPassword", "mailbox", "create", "--tenant", "contoso", "--alias", "support", "--type", "shared", "--password", "x")
	src.fail("InvalidRecipientType", "mailbox", "create", "--tenant", "contoso", "--alias", "support", "--type", "room")
	src.fail("RecipientNotFound", "mailbox", "show", "--tenant", "contoso", "support")
	src.fail("SharedMailboxPassword", "mailbox", "set", "--tenant", "contoso", "sales", "--password", "x")
	src.run("mailbox", "create", "--tenant", "contoso", "--alias", "user01", "--password", "pw-user01-x")
	src.run("mailbox", "create", "--tenant", "contoso", "--alias", "user02", "--password", "pw-user02-x")

	type perm struct{ Identity, User, AccessRights string }
	var p perm
	src.json(&p, "mailbox", "permission", "add", "--tenant", "contoso", "sales", "--user", "user01", "--access-rights", "fullaccess")
	if p.Identity != sales.PrimarySmtpAddress || p.User != "user01@contoso.tenantferry.test" || p.AccessRights != "FullAccess" {
		t.Fatalf("add: %+v", p)
	}
	src.run("mailbox", "permission", "add", "--tenant", "contoso", "sales", "--user", "user01", "--access-rights", "FullAccess") // again: no change
	src.run("mailbox", "permission", "add", "--tenant", "contoso", "sales", "--user", "user01@contoso.tenantferry.test", "--access-rights", "SendAs")
	list := func(want int) []perm {
		t.Helper()
		var ps []perm
		src.json(&ps, "mailbox", "permission", "list", "--tenant", "contoso", "sales")
		if len(ps) != want {
			t.Fatalf("permission list: %d rows %+v, want %d", len(ps), ps, want)
		}
		return ps
	}
	list(2)
	src.fail("InvalidAccessRight", "mailbox", "permission", "add", "--tenant", "contoso", "sales", "--user", "user02", "--access-rights", "Owner")
	src.fail("InvalidPermissionTarget", "mailbox", "permission", "add", "--tenant", "contoso", "user01", "--user", "user01", "--access-rights", "FullAccess")
	src.fail("InvalidPermissionTarget", "mailbox", "permission", "add", "--tenant", "contoso", "user01", "--user", "sales", "--access-rights", "FullAccess")
	src.fail("RecipientNotFound", "mailbox", "permission", "add", "--tenant", "contoso", "sales", "--user", "nobody", "--access-rights", "FullAccess")
	list(2)

	// Another tenant's admin reaches nothing of contoso's.
	fab := s.as(t, fabrikam.AdminToken)
	fab.fail("TenantAccessDenied", "mailbox", "permission", "list", "--tenant", "contoso", "sales")
	fab.fail("TenantAccessDenied", "mailbox", "permission", "add", "--tenant", "contoso", "sales", "--user", "user02", "--access-rights", "FullAccess")
	fab.run("mailbox", "create", "--tenant", "fabrikam", "--alias", "user09", "--password", "pw-user09-x")
	fab.fail("RecipientNotFound", "mailbox", "permission", "add", "--tenant", "fabrikam", "user09", "--user", "user01@contoso.tenantferry.test", "--access-rights", "FullAccess")
	list(2)

	src.run("mailbox", "permission", "remove", "--tenant", "contoso", "sales", "--user", "user01", "--access-rights", "SendAs")
	if ps := list(1); ps[0].AccessRights != "FullAccess" {
		t.Fatalf("after remove: %+v", ps)
	}
	src.fail("PermissionNotFound", "mailbox", "permission", "remove", "--tenant", "contoso", "sales", "--user", "user01", "--access-rights", "SendAs")
	// Deleting the user withdraws its permissions.
	src.run("mailbox", "delete", "--tenant", "contoso", "user01", "--yes")
	list(0)
}
