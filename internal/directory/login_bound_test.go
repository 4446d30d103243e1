package directory_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/identity"
)

// TestParallelLoginsAreBounded: many logins at once (right and wrong
// passwords, unknown addresses) never run more argon2id hashes at a time
// than identity.PasswordHashLimit, each ~19 MiB. Without the slots every
// login would hash at once and the high watermark would reach the number
// of logins.
func TestParallelLoginsAreBounded(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		x := newDir(t, d)
		c := mustTenant(t, x, "contoso")
		mustMailbox(t, x, c.ID, "user01")
		limit := identity.PasswordHashLimit()
		if limit < 2 {
			t.Fatalf("PasswordHashLimit = %d, want at least 2", limit)
		}
		n := 4*limit + 3
		var wg sync.WaitGroup
		errc := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				switch i % 3 {
				case 0:
					_, err = x.Login(ctx, "user01@contoso.tenantferry.test", "pw-user01")
				case 1:
					if _, err = x.Login(ctx, "user01@contoso.tenantferry.test", "wrong"); errors.Is(err, directory.ErrLoginFailed) {
						err = nil
					}
				default:
					if _, err = x.Login(ctx, fmt.Sprintf("nobody%d@contoso.tenantferry.test", i), "x"); errors.Is(err, directory.ErrLoginFailed) {
						err = nil
					}
				}
				errc <- err
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			must(t, err)
		}
		inFlight, peak := identity.PasswordHashStats()
		if peak > int64(limit) || inFlight != 0 {
			t.Fatalf("%d parallel logins: %d hashes at once at the peak (limit %d), %d still in flight", n, peak, limit, inFlight)
		}
		t.Logf("%d parallel logins: at most %d hashes at once (limit %d)", n, peak, limit)
	})
}
