package api_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/identity"
)

// BenchmarkBulkCreate creates 5,000 mailboxes from one CSV file over the
// API (POST .../mailboxes/bulk, what `mailbox create --csv` sends) without
// passwords, with pre-computed argon2id hashes (PasswordHash) and with
// passwords, and reports mailboxes per second. Each iteration fills a new
// tenant. Figures: docs/benchmarks.md.
func BenchmarkBulkCreate(b *testing.B) {
	const rows = 5000
	for _, dialect := range []db.Dialect{db.SQLite, db.Postgres} {
		for _, mode := range []string{"none", "hash", "password"} {
			withPw := mode == "password"
			name := fmt.Sprintf("%s/rows=%d/passwords=%s", dialect, rows, mode)
			b.Run(name, func(b *testing.B) {
				s := startServer(b, b.TempDir(), dbtest.DSN(b, dialect), "", nil)
				var spent time.Duration
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					tn := s.createTenant(b, fmt.Sprintf("bulk%d", i))
					var sb strings.Builder
					sb.WriteString("Address,DisplayName,Password,PasswordHash\n")
					for r := 0; r < rows; r++ {
						pw, hash := "", ""
						switch mode {
						case "password":
							pw = fmt.Sprintf("pw-%d-%d", i, r)
						case "hash":
							hash = `"` + preHashed + `"` // a PHC string holds commas
						}
						fmt.Fprintf(&sb, "user%05d@%s,User %d,%s,%s\n", r, tn.InitialDomain, r, pw, hash)
					}
					body := raw{"text/csv", []byte(sb.String())}
					b.StartTimer()
					start := time.Now()
					var res struct{ Created int }
					s.call(b, "POST", tp(tn.Name)+"/mailboxes/bulk", tn.Token, body).ok(b, &res)
					spent += time.Since(start)
					if res.Created != rows {
						b.Fatalf("created %d", res.Created)
					}
				}
				b.ReportMetric(float64(rows*b.N)/spent.Seconds(), "mailboxes/s")
				if withPw {
					// The ceiling in the same run: bare password hashes,
					// as many at once as the process allows.
					b.ReportMetric(hashRate(b, 200), "hashes/s")
				}
			})
		}
	}
}

// preHashed is a well-formed argon2id PHC string with HashPassword's costs
// (CheckPasswordHash accepts it; no password of the benchmark matches it).
const preHashed = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$4LcwTfHuQ3Nk0wqpvQyRaB3kpBCbr4cUq1Do8SomZ8E"

// hashRate hashes n passwords on PasswordHashLimit goroutines and returns
// hashes per second.
func hashRate(b *testing.B, n int) float64 {
	start := time.Now()
	work := make(chan int)
	var wg sync.WaitGroup
	for range identity.PasswordHashLimit() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if _, err := identity.HashPassword(fmt.Sprint("pw-", i)); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}
