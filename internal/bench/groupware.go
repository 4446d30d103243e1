package bench

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/groupware"
	"github.com/tenantferry/tenantferry/internal/mailgen"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/server"
)

// groupwarePhase measures the groupware line: a source mailbox "benchgw"
// filled with generated events, tasks and contacts through the groupware
// core (validated as CalDAV/CardDAV PUTs are), the raw loopback limit on
// its bytes, and a native batch's initial sync of it (batch start to
// Synced), in objects per second and as a ratio to the raw limit.
func groupwarePhase(ctx context.Context, src, tgt *server.Server, op *admin.Principal, ts *admin.TrustSetup, o Options, dir string,
	progress io.Writer, res *Result) error {
	user, err := src.Admin.CreateRecipient(ctx, op, "contoso", directory.RecipientSpec{Type: directory.UserMailbox, Alias: "benchgw", Password: "bench-pw"})
	if err != nil {
		return err
	}
	acc, err := src.Groupware.OwnerAccount(ctx, user)
	if err != nil {
		return err
	}
	objs := mailgen.Groupware(mailgen.GroupwareOptions{Seed: o.Seed, Owner: user.PrimarySmtpAddress, Events: o.GWEvents, Tasks: o.GWTasks, Contacts: o.GWContacts})
	fmt.Fprintf(progress, "generating %d events, %d tasks and %d contacts...\n", o.GWEvents, o.GWTasks, o.GWContacts)
	cols := map[string]*groupware.Collection{}
	for _, obj := range objs {
		c := cols[obj.Collection]
		if c == nil {
			kind := groupware.KindCalendar
			if obj.Collection == "Contacts" {
				kind = groupware.KindAddressBook
			}
			if c, err = src.Groupware.Collection(ctx, acc, kind, obj.Collection); err != nil {
				return err
			}
			cols[obj.Collection] = c
		}
		if _, _, err := src.Groupware.PutObject(ctx, acc, c, obj.Name, obj.Data, groupware.Conditions{}); err != nil {
			return err
		}
		res.GWBytes += int64(len(obj.Data))
	}
	res.GWObjects = len(objs)
	raw, err := rawLoopback(ctx, src.Store, acc.Mailbox.ID, filepath.Join(dir, "raw-gw.tar"))
	if err != nil {
		return err
	}
	res.GWRawSeconds = raw.Seconds()
	res.GWRawItemsPerSec = float64(res.GWObjects) / raw.Seconds()

	if _, err := src.Admin.AddMember(ctx, op, "contoso", ts.ScopeGroup, "benchgw"); err != nil {
		return err
	}
	csv := []byte("EmailAddress\nbenchgw@" + ts.TargetTenant.InitialDomain + "\n")
	if _, err := tgt.Admin.PrepareMailUsers(ctx, op, "fabrikam", ts.Endpoint, csv, ts.TargetTenant.InitialDomain, false); err != nil {
		return err
	}
	fmt.Fprintf(progress, "initial sync of the groupware mailbox (native replication over loopback HTTP)...\n")
	t0 := time.Now()
	if _, err := tgt.Admin.CreateBatch(ctx, op, "fabrikam", migration.BatchSpec{Name: "benchgw", Endpoint: ts.Endpoint, CSV: csv,
		TargetDeliveryDomain: ts.TargetTenant.InitialDomain, AutoStart: true}); err != nil {
		return err
	}
	u, err := waitUser(ctx, tgt, op, "benchgw", func(u *migration.UserView) bool { return u.Status == migration.StateSynced && u.StatusDetail == "" })
	if err != nil {
		return err
	}
	took := time.Since(t0)
	res.GWSeconds = took.Seconds()
	res.GWItemsPerSec = float64(res.GWObjects) / took.Seconds()
	res.GWRatioToRaw = res.GWItemsPerSec / res.GWRawItemsPerSec
	res.GWCalendar, res.GWTasks, res.GWContacts = u.CalendarItems, u.TaskItems, u.ContactItems
	if int(u.ItemsSynced) != res.GWObjects {
		return errs.New(errs.Internal, "BenchmarkFailed", "the groupware move synced %d of %d objects", u.ItemsSynced, res.GWObjects)
	}
	fmt.Fprintf(progress, "  %d objects (%d calendar, %d tasks, %d contacts), %s in %.2fs: %.0f objects/s (raw limit %.0f objects/s: %.0f%%)\n",
		res.GWObjects, u.CalendarItems, u.TaskItems, u.ContactItems, mb_(res.GWBytes), res.GWSeconds, res.GWItemsPerSec, res.GWRawItemsPerSec, res.GWRatioToRaw*100)
	return nil
}
