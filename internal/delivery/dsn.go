package delivery

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantferry/tenantferry/internal/db"
)

// maxDSNHeader bounds the original header section quoted in a DSN.
const maxDSNHeader = 64 << 10

// bounce ends a row as bounced and, unless the message has the null sender,
// queues a DSN to the envelope sender in the same transaction, so a row
// bounces (and notifies) exactly once.
func (s *Service) bounce(ctx context.Context, r *rcptRow, m *msgRow, reason *Error) error {
	result := reason.StatusText() + " " + reason.Message
	if m.from == "" {
		err := s.d.Write(ctx, func(tx *db.Tx) error {
			_, err := finish(ctx, tx, r.id, StateBounced, result)
			return err
		})
		if err != nil {
			return internal(err, "record bounce")
		}
		s.m.result(StateBounced)
		s.log.Info("bounced without DSN (null sender)", "id", m.uid, "rcpt", r.rcpt, "reason", reason)
		return nil
	}
	var head []byte
	if blob, err := s.blobs.Open(ctx, m.sha256); err == nil {
		head = headerSection(blob, maxDSNHeader)
		blob.Close()
	}
	id := newQueueID()
	dsn := BuildDSN(DSN{
		ReportingMTA: s.hostname, QueueID: m.uid, From: m.from, Recipient: r.rcpt,
		Arrival: time.UnixMilli(m.createdAt), Reason: reason, Header: head, MessageID: "<" + uuid.NewString() + "@" + s.hostname + ">",
	}, time.Now())
	nm := &newMessage{from: "", source: "dsn", relay: true, rcpts: []string{m.from}}
	q, err := s.enqueue(ctx, id, nm, bytes.NewReader(dsn), func(tx *db.Tx) error {
		ok, err := finish(ctx, tx, r.id, StateBounced, result)
		if err == nil && !ok {
			return errAbort // bounced already: no second DSN
		}
		return err
	})
	if err != nil {
		return err
	}
	if q != nil {
		s.m.result(StateBounced)
		s.log.Info("bounced", "id", m.uid, "rcpt", r.rcpt, "reason", reason, "dsn", q.ID, "to", m.from)
	}
	return nil
}

// DSN describes one failed recipient to report.
type DSN struct {
	ReportingMTA string    // this server's host name
	QueueID      string    // the failed message's queue id
	From         string    // the envelope sender the report goes to
	Recipient    string    // the failed recipient
	Arrival      time.Time // when the message was accepted
	Reason       *Error    // why it failed
	Header       []byte    // the original header section (may be empty)
	MessageID    string    // Message-ID of the report, with angle brackets
}

// BuildDSN renders an RFC 3464 delivery status notification: a
// multipart/report (RFC 6522) with a human-readable part, a
// message/delivery-status part and the original header section as
// text/rfc822-headers. Everything but the quoted header is ASCII.
func BuildDSN(d DSN, now time.Time) []byte {
	boundary := "tf-dsn-" + strings.ReplaceAll(uuid.NewString(), "-", "")
	mta := sanitize(d.ReportingMTA, 255)
	rcpt := sanitize(d.Recipient, 320)
	reason := d.Reason
	if reason == nil {
		reason = errTemporary
	}
	status := reason.StatusText()
	text := sanitize(reason.Message, 500)
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	w("From: Mail Delivery System <MAILER-DAEMON@%s>", mta)
	w("To: <%s>", sanitize(d.From, 320))
	w("Subject: Undelivered Mail Returned to Sender")
	w("Date: %s", now.Format(time.RFC1123Z))
	w("Message-ID: %s", sanitize(d.MessageID, 400))
	w("Auto-Submitted: auto-replied")
	w("MIME-Version: 1.0")
	w("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"", boundary)
	w("")
	w("This is a MIME-encapsulated delivery status notification.")
	w("")
	w("--%s", boundary)
	w("Content-Type: text/plain; charset=us-ascii")
	w("Content-Description: Notification")
	w("")
	w("This is the mail system at %s.", mta)
	w("")
	w("Your message could not be delivered to one or more recipients.")
	w("")
	w("<%s>: %s", rcpt, text)
	w("")
	w("--%s", boundary)
	w("Content-Type: message/delivery-status")
	w("Content-Description: Delivery report")
	w("")
	w("Reporting-MTA: dns; %s", mta)
	w("X-Tenantferry-Queue-ID: %s", sanitize(d.QueueID, 64))
	if !d.Arrival.IsZero() {
		w("Arrival-Date: %s", d.Arrival.Format(time.RFC1123Z))
	}
	w("")
	w("Final-Recipient: rfc822; %s", rcpt)
	w("Action: failed")
	w("Status: %s", status)
	if reason.Code > 0 {
		w("Diagnostic-Code: smtp; %d %s %s", reason.Code, status, text)
	}
	w("Last-Attempt-Date: %s", now.Format(time.RFC1123Z))
	w("")
	w("--%s", boundary)
	w("Content-Type: text/rfc822-headers")
	w("Content-Description: Undelivered message headers")
	w("")
	b.Write(d.Header)
	if n := len(d.Header); n > 0 && d.Header[n-1] != '\n' {
		b.WriteString("\r\n")
	}
	w("")
	w("--%s--", boundary)
	return b.Bytes()
}
