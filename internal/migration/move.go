package migration

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"time"

	"github.com/tenantferry/tenantferry/internal/replication"
)

// MoveSpec is a single move (New-MoveRequest): one user, moved by a
// batch of its own that is named for it and started at once.
type MoveSpec struct {
	// EmailAddress is the user's target address.
	EmailAddress         string
	Endpoint             string
	TargetDeliveryDomain string
	// UserName and Password sign in to an IMAP endpoint's source.
	UserName, Password string
	// SuspendWhenReadyToComplete leaves the user Synced (it completes with
	// `migrationuser complete`); otherwise it completes once synced, or at
	// CompleteAfter.
	SuspendWhenReadyToComplete bool
	CompleteAfter              time.Time
	MaxItemSize                int64
	LargeItemLimit             *int64
	BadItemLimit               *int64
	NotificationEmails         string
	Filter                     *replication.Filter
}

// maxMoveNames is how many names CreateMove tries: move-ADDRESS, then
// move-ADDRESS-2 and on, for a user moved again while an earlier move's
// batch was not removed.
const maxMoveNames = 100

// CreateMove creates and starts the one-user batch of a single move,
// checked like any batch (its CSV, limits and schedule); it is named
// "move-" and the user's address (with a number when that name is taken).
func (s *Service) CreateMove(ctx context.Context, tenantID string, spec MoveSpec) (*Batch, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if spec.UserName != "" || spec.Password != "" {
		w.Write([]string{"EmailAddress", "UserName", "Password"})
		w.Write([]string{spec.EmailAddress, spec.UserName, spec.Password})
	} else {
		w.Write([]string{"EmailAddress"})
		w.Write([]string{spec.EmailAddress})
	}
	w.Flush()
	bs := BatchSpec{Endpoint: spec.Endpoint, CSV: buf.Bytes(), TargetDeliveryDomain: spec.TargetDeliveryDomain, AutoStart: true,
		AutoComplete: !spec.SuspendWhenReadyToComplete, CompleteAfter: spec.CompleteAfter, MaxItemSize: spec.MaxItemSize,
		LargeItemLimit: spec.LargeItemLimit, BadItemLimit: spec.BadItemLimit, NotificationEmails: spec.NotificationEmails, Filter: spec.Filter}
	for i := 1; i <= maxMoveNames; i++ {
		bs.Name = "move-" + spec.EmailAddress
		if i > 1 {
			bs.Name = fmt.Sprintf("move-%s-%d", spec.EmailAddress, i)
		}
		b, err := s.CreateBatch(ctx, tenantID, bs)
		if !errors.Is(err, ErrBatchExists) {
			return b, err
		}
	}
	return nil, ErrBatchExists.Newf("%d batches named for moves of %s exist", maxMoveNames, spec.EmailAddress).WithObject(spec.EmailAddress).
		WithHint("remove the old ones with 'tenantferry batch remove move-%s'", spec.EmailAddress)
}
