package bench

import (
	"context"
	"io"
	"testing"
	"time"
)

// TestRunSmall runs the benchmark on a small mailbox, with the dsync
// reference when doveadm is installed, and checks that every step produced
// its figures (not their values: no timing assertions). Dovecot's dsync
// must have copied every message.
func TestRunSmall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	o := Options{Items: 200, AttachKB: 64, NewItems: 10, FlagChanges: 20, DSync: true, GWEvents: 50, GWTasks: 10, GWContacts: 20}
	res, err := Run(ctx, o, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes == 0 || res.RawMBps <= 0 || res.SyncMBps <= 0 || res.Consistency != "Perfect" {
		t.Errorf("incomplete result: %+v", res)
	}
	if res.GWObjects != 80 || res.GWCalendar != 50 || res.GWTasks != 10 || res.GWContacts != 20 || res.GWItemsPerSec <= 0 || res.GWRawItemsPerSec <= 0 {
		t.Errorf("groupware line: %d objects (%d/%d/%d), %.0f/s, raw %.0f/s", res.GWObjects, res.GWCalendar, res.GWTasks, res.GWContacts,
			res.GWItemsPerSec, res.GWRawItemsPerSec)
	}
	if !DSyncAvailable() {
		t.Logf("doveadm is not installed; dsync note: %s", res.DSyncNote)
		return
	}
	if res.DSyncItems != o.Items || res.DSyncMBps <= 0 || res.NativeToDSync <= 0 || res.DSyncNote != "" {
		t.Errorf("dsync reference: %d of %d items, %.0f MB/s, ratio %.2f, note %q", res.DSyncItems, o.Items, res.DSyncMBps, res.NativeToDSync, res.DSyncNote)
	}
}
