package server

import (
	"reflect"
	"testing"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// TestNotifyPayloadsCoalescePerMailbox: a burst of events waiting for the
// bridge goes out as one payload per mailbox, in first-seen order, with the
// mailbox's highest MODSEQ; events arriving later stay for the next send.
func TestNotifyPayloadsCoalescePerMailbox(t *testing.T) {
	out := make(chan mailstore.Event, 16)
	for _, e := range []mailstore.Event{{MailboxID: 7, ModSeq: 3}, {MailboxID: 9, ModSeq: 1}, {MailboxID: 7, ModSeq: 5}, {MailboxID: 7, ModSeq: 4}} {
		out <- e
	}
	got := notifyPayloads("n1", mailstore.Event{MailboxID: 9, ModSeq: 2}, out)
	want := []string{"n1:9:2", "n1:7:5"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("payloads = %v, want %v", got, want)
	}
	if len(out) != 0 {
		t.Fatalf("%d events left in the channel, want the burst drained", len(out))
	}
	out <- mailstore.Event{MailboxID: 1, ModSeq: 1}
	if got := notifyPayloads("n1", mailstore.Event{MailboxID: 2, ModSeq: 8}, out); !reflect.DeepEqual(got, []string{"n1:2:8", "n1:1:1"}) {
		t.Fatalf("second burst = %v", got)
	}
}
