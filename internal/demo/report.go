package demo

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tenantferry/tenantferry/internal/units"
)

// summary prints what the demo achieved.
func (d *run) summary() {
	r := &d.res
	var moved, stay []string
	for _, u := range d.users {
		if u.moved {
			moved = append(moved, u.alias)
		} else {
			stay = append(stay, u.alias)
		}
	}
	var skipped int64
	for _, u := range r.Users {
		skipped += u.ItemsSkipped
	}
	secs := max(r.InitialSync.Seconds(), 0.001) // never zero: set from a duration ≥ 1 ms
	d.p.line("\n══ Summary ══")
	d.p.line("  Users           %d moved from contoso to fabrikam (%s); %s stays on contoso", len(moved), strings.Join(moved, ", "), strings.Join(stay, ", "))
	d.p.line("  Initial sync    %s items, %s in %s: %s/s, %s items/s (from batch creation, validation included)",
		count(r.InitialItems), units.Bytes(r.InitialBytes), dur(r.InitialSync), units.Bytes(int64(float64(r.InitialBytes)/secs)), count(int64(float64(r.InitialItems)/secs)))
	d.p.line("  Skipped items   %d", skipped)
	if g := r.Groupware; g != nil {
		d.p.line("  Groupware       %d events, %d tasks, %d contacts moved; %d of %d objects byte-exact (SHA-256)", g.Events, g.Tasks, g.Contacts, g.Matching, g.Total)
	}
	d.p.line("")
	tw := tabwriter.NewWriter(d.p.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  User\tStatus\tItems\tMail/Calendar/Tasks/Contacts\tSize\tSkipped\tInitial sync\tLock window\tDataConsistencyScore")
	for _, u := range r.Users {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d/%d/%d/%d\t%s\t%d\t%s\t%s\t%s\n", u.EmailAddress, u.Status, count(u.ItemsSynced),
			u.MailItems, u.CalendarItems, u.TaskItems, u.ContactItems, units.Bytes(u.BytesTransferred),
			u.ItemsSkipped, durString(u.InitialSyncDuration), durString(u.LockWindow), u.DataConsistencyScore)
	}
	tw.Flush()
	d.p.line("")
	if a := r.PostCutover; a != nil {
		d.p.line("  After cutover   mail to %s arrived in %s %s (UID %d) after %s", a.SentTo, a.Mailbox, a.Folder, a.UID, dur(a.After))
	} else {
		d.p.line("  After cutover   mail to the old address did not arrive")
	}
	d.p.line("  Demo run time   %s", dur(r.Duration))
}

// durString renders a Go duration string for people ("" stays "-").
func durString(s string) string {
	v, err := time.ParseDuration(s)
	if err != nil || s == "" {
		return "-"
	}
	return dur(v)
}

// connectInfo prints how to use the running servers.
func (d *run) connectInfo() {
	s, t := d.src, d.tgt
	d.p.line("\nThe servers keep running. Connect with any IMAP/SMTP client (plain-text login is allowed on loopback):")
	d.p.line("  Target (fabrikam)  IMAP %s   SMTP %s   submission %s", t.Addr("imap"), t.Addr("smtp"), t.Addr("submission"))
	for _, u := range d.users {
		if u.moved {
			d.p.line("      %-36s password %s   (moved)", u.alias+"@"+t.domain, TargetPassword)
		}
	}
	d.p.line("  Source (contoso)   IMAP %s   SMTP %s   submission %s", s.Addr("imap"), s.Addr("smtp"), s.Addr("submission"))
	for _, u := range d.users {
		if !u.moved {
			d.p.line("      %-36s password %s   (not moved)", u.sourceAddr(s), SourcePassword)
		}
	}
	d.p.line("      mail to a moved user's old address (e.g. %s) is forwarded to fabrikam", d.users[0].sourceAddr(s))
	d.p.line("  HTTP API           target %s   (operator token: %s)", t.PublicURL, operatorTokenPath(t))
	d.p.line("                     source %s   (operator token: %s)", s.PublicURL, operatorTokenPath(s))
	d.p.line("  Web admin          target %s#token=%s", t.PublicURL+"/ui/", t.adminToken)
	d.p.line("                     source %s#token=%s", s.PublicURL+"/ui/", s.adminToken)
	d.p.line("                     (open the link to sign in as the tenant admin; the token stays in that browser tab)")
	d.p.line("  Try (from the repository, in another terminal):")
	d.p.line("        go build -o tenantferry ./cmd/tenantferry")
	d.p.line("        ./tenantferry --server %s --token \"$(cat %s)\" batch users %s --tenant fabrikam", t.PublicURL, quote(operatorTokenPath(t)), d.batch)
	d.p.line("        ./tenantferry --server %s --token \"$(cat %s)\" batch report %s --tenant fabrikam --user %s@%s",
		t.PublicURL, quote(operatorTokenPath(t)), d.batch, d.users[0].alias, t.domain)
	d.p.line("Press Ctrl-C to stop. The data stays in %s until the next demo run replaces it.", d.dd.path)
}
