package delivery_test

import (
	"bytes"
	"github.com/emersion/go-smtp"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	gomessage "github.com/emersion/go-message"

	"github.com/tenantferry/tenantferry/internal/delivery"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

func mailboxState(s string) mailstore.MailboxState { return mailstore.MailboxState(s) }

// closedPort returns a loopback address nobody listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

func TestCountReceived(t *testing.T) {
	for _, c := range []struct {
		msg  string
		want int
	}{
		{"", 0},
		{"Received: a\r\nreceived: b\r\nRECEIVED : c\r\n\tfolded Received: x\r\nX-Received: no\r\n\r\nReceived: in body\r\n", 3},
		{"Received: a\nReceived: b\n\nReceived: c\n", 2},
		{"Subject: x\r\nReceived:", 1},
		{"Received\r\nReceivedX: a\r\n", 0},
		{"\r\nReceived: a\r\n", 0},
	} {
		if got := delivery.CountReceived([]byte(c.msg)); got != c.want {
			t.Errorf("CountReceived(%q) = %d, want %d", c.msg, got, c.want)
		}
	}
}

func FuzzCountReceived(f *testing.F) {
	f.Add([]byte("Received: a\r\nReceived: b\r\n\r\nbody"), 3)
	f.Add([]byte("received :x\n\tReceived: y\nReceived\t: z\n\n"), 1)
	f.Add([]byte("\x00\xff\rReceived: \r\r\n"), 2)
	f.Fuzz(func(t *testing.T, msg []byte, chunk int) {
		if chunk <= 0 || chunk > 1<<16 {
			chunk = 1
		}
		whole := delivery.CountReceived(msg)
		if got := delivery.CountReceivedChunked(msg, chunk); got != whole {
			t.Fatalf("chunked (%d) count %d != whole count %d", chunk, got, whole)
		}
		if lines := bytes.Count(msg, []byte("\n")) + 1; whole > lines {
			t.Fatalf("%d Received fields in %d lines", whole, lines)
		}
	})
}

func FuzzSplitAddress(f *testing.F) {
	for _, s := range []string{"a@b.c", "\"x y\"@d.e", "@x", "x@", "a@b@c.D.", "", "a b@c", "<a@b>", "a@[127.0.0.1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		local, domain, ok := delivery.SplitAddress(addr)
		if !ok {
			return
		}
		if local == "" || domain == "" && !strings.HasSuffix(addr, ".") {
			t.Fatalf("SplitAddress(%q) = %q, %q, ok", addr, local, domain)
		}
		if !strings.HasPrefix(addr, local+"@") || domain != strings.ToLower(domain) {
			t.Fatalf("SplitAddress(%q) = %q, %q", addr, local, domain)
		}
		if strings.ContainsAny(domain, " \r\n\t<>@") {
			t.Fatalf("domain %q of %q has forbidden characters", domain, addr)
		}
	})
}

func FuzzHeaderSection(f *testing.F) {
	f.Add([]byte("A: b\r\nC: d\r\n\r\nbody"), 100)
	f.Add([]byte("no header end"), 3)
	f.Add([]byte("\n\nx"), 1)
	f.Fuzz(func(t *testing.T, msg []byte, max int) {
		if max <= 0 || max > 1<<20 {
			max = 64
		}
		h := delivery.HeaderSection(msg, max)
		if len(h) > max || !bytes.HasPrefix(msg, h) {
			t.Fatalf("HeaderSection(%q, %d) = %q: not a bounded prefix", msg, max, h)
		}
	})
}

func TestNextRetry(t *testing.T) {
	s := &delivery.Service{RetryBase: time.Minute, RetryMax: 10 * time.Minute}
	now := time.Unix(1_700_000_000, 0)
	far := now.Add(24 * time.Hour).UnixMilli()
	for attempt, want := range map[int]time.Duration{1: time.Minute, 2: 2 * time.Minute, 4: 8 * time.Minute, 5: 10 * time.Minute, 50: 10 * time.Minute} {
		if got := s.NextRetryAt(attempt, far, now).Sub(now); got != want {
			t.Errorf("attempt %d: delay %v, want %v", attempt, got, want)
		}
	}
	soon := now.Add(90 * time.Second)
	if got := s.NextRetryAt(5, soon.UnixMilli(), now); !got.Equal(soon) {
		t.Errorf("retry after the expiry: %v, want the expiry %v", got, soon)
	}
	if got := s.NextRetryAt(5, now.Add(-time.Hour).UnixMilli(), now); !got.Equal(now) {
		t.Errorf("already expired: %v, want now", got)
	}
}

// TestBuildDSN parses a DSN as a MIME message: multipart/report with the
// three RFC 3464 parts and the per-recipient fields.
func TestBuildDSN(t *testing.T) {
	reason := &delivery.Error{Code: 550, Status: smtp.EnhancedCode{5, 1, 1}, Message: "no such user\r\nInjected: header"}
	raw := delivery.BuildDSN(delivery.DSN{ReportingMTA: "mx.test", QueueID: "Q1", From: "a@b.test", Recipient: "c@d.test",
		Arrival: time.Now(), Reason: reason, Header: []byte("Subject: hi\r\nFrom: a@b.test\r\n\r\n"), MessageID: "<id@mx.test>"}, time.Now())
	ent, err := gomessage.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	ct, params, _ := ent.Header.ContentType()
	if ct != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("content type %s %v", ct, params)
	}
	if ent.Header.Get("Injected") != "" {
		t.Fatal("reason text injected a header")
	}
	mr := ent.MultipartReader()
	var types []string
	var status string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pt, _, _ := p.Header.ContentType()
		types = append(types, pt)
		b, _ := io.ReadAll(p.Body)
		if pt == "message/delivery-status" {
			status = string(b)
		}
	}
	if strings.Join(types, ",") != "text/plain,message/delivery-status,text/rfc822-headers" {
		t.Fatalf("parts %v", types)
	}
	for _, want := range []string{"Reporting-MTA: dns; mx.test", "Final-Recipient: rfc822; c@d.test", "Action: failed", "Status: 5.1.1", "Diagnostic-Code: smtp; 550 5.1.1"} {
		if !strings.Contains(status, want) {
			t.Fatalf("delivery-status part lacks %q:\n%s", want, status)
		}
	}
}
