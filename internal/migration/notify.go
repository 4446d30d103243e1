package migration

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/units"
)

// Notifier sends a report mail from the tenant (the delivery queue
// implements it; nil disables report mails).
type Notifier func(ctx context.Context, from string, to []string, msg []byte) error

// notifyBatch sends the batch's report to its NotificationEmails once at
// each of Exchange's two points: the end of the initial syncs (Synced)
// and the end of the completion (Completed).
func (s *Service) notifyBatch(ctx context.Context, b *Batch, status string, ms []*Move) error {
	var col string
	switch status {
	case "Synced", "SyncedWithErrors":
		col = "notified_synced_at"
	case "Completed", "CompletedWithErrors":
		col = "notified_completed_at"
	default:
		return nil
	}
	return s.sendReport(ctx, b, status, ms, `UPDATE batches SET `+col+` = ? WHERE id = ? AND `+col+` = 0`, db.Now(), b.ID)
}

// intervalReport sends the report of a started batch with a
// ReportInterval when that long passed since the last interval report
// (or the start), at most once per interval across nodes.
func (s *Service) intervalReport(ctx context.Context, b *Batch, status string, ms []*Move, now time.Time) error {
	if b.ReportInterval <= 0 || b.Control != ControlStarted || b.StartedAt.IsZero() || status == "Completed" || status == "CompletedWithErrors" {
		return nil
	}
	last := b.LastReportAt
	if last.IsZero() {
		last = b.StartedAt
	}
	if now.Sub(last) < b.ReportInterval {
		return nil
	}
	return s.sendReport(ctx, b, status, ms, `UPDATE batches SET last_report_at = ? WHERE id = ? AND last_report_at = ?`,
		db.Millis(now), b.ID, db.Millis(b.LastReportAt))
}

// sendReport mails the batch's report to its NotificationEmails when the
// claim (an UPDATE of the batch with its arguments, a compare-and-set)
// changes a row: concurrent ticks and nodes send it once. A report is a
// courtesy: sending it twice after a crash would be worse than a lost
// one, which `batch report` replaces.
func (s *Service) sendReport(ctx context.Context, b *Batch, status string, ms []*Move, claim string, args ...any) error {
	if s.Notify == nil || strings.TrimSpace(b.NotificationEmails) == "" {
		return nil
	}
	var to []string
	for _, a := range splitAddresses(b.NotificationEmails) {
		if addr, err := directory.ParseSMTP("NotificationEmails", a); err == nil {
			to = append(to, addr)
		}
	}
	if len(to) == 0 {
		return nil
	}
	t, err := s.Dir.GetTenant(ctx, b.TenantID)
	if err != nil {
		return err
	}
	from := "postmaster@" + t.InitialDomain
	msg := s.reportMail(b, status, ms, from, to)
	claimed := false
	if err := s.D.Write(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, claim, args...)
		if err == nil {
			n, _ := res.RowsAffected()
			claimed = n == 1
		}
		return err
	}); err != nil || !claimed {
		return err
	}
	return s.Notify(ctx, from, to, msg)
}

// splitAddresses splits a NotificationEmails list.
func splitAddresses(list string) []string {
	return strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ';' || r == ' ' })
}

// reportMail renders a batch report as a plain-text message.
func (s *Service) reportMail(b *Batch, status string, ms []*Move, from string, to []string) []byte {
	var body bytes.Buffer
	fmt.Fprintf(&body, "Migration batch %s is %s.\n\nEndpoint: %s\nTarget delivery domain: %s\nUsers: %d\n\n", b.Name, status, b.EndpointName, b.TargetDeliveryDomain, len(ms))
	tw := tabwriter.NewWriter(&body, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "User\tStatus\tItems\tSize\tSkipped\tConsistency\tLock window\tError")
	for _, m := range ms {
		v := s.ViewUser(m)
		errText := ""
		if v.Error != nil {
			errText = v.Error.Code
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%d\t%s\t%s\t%s\n", m.Email, m.State, m.ItemsSynced, m.ItemsTotal, units.Bytes(m.BytesTransferred),
			m.ItemsSkipped, m.Consistency, v.LockWindow, errText)
	}
	tw.Flush()
	fmt.Fprintf(&body, "\nDetails: tenantferry batch report %s\n", b.Name)
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "From: tenantferry <%s>\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nAuto-Submitted: auto-generated\r\n\r\n",
		from, strings.Join(to, ", "), mime.QEncoding.Encode("utf-8", "Migration batch "+b.Name+": "+status), time.Now().Format(time.RFC1123Z))
	msg.WriteString(strings.ReplaceAll(body.String(), "\n", "\r\n"))
	return msg.Bytes()
}
