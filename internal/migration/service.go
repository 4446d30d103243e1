package migration

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/groupware"
	"github.com/tenantferry/tenantferry/internal/identity"
	"github.com/tenantferry/tenantferry/internal/jobs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration/source"
	"github.com/tenantferry/tenantferry/internal/netguard"
	"github.com/tenantferry/tenantferry/internal/quota"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// Service runs migration batches on the target side.
type Service struct {
	D         *db.DB
	Dir       *directory.Directory
	Store     *mailstore.Store
	Jobs      *jobs.Runner // set before Start (the runner is created after workers register)
	Engine    *replication.Engine
	PublicURL string
	Log       *slog.Logger
	// Guard is the operator's policy for the servers endpoints connect to
	// (set it with UseGuard). The default refuses loopback, private and
	// link-local addresses.
	Guard *netguard.Policy
	// HTTP reaches source servers, through Guard.
	HTTP *http.Client
	// TokenHTTP asks this server's own token endpoint for the migration
	// app's tokens (PublicURL: the operator's, not a tenant's, choice).
	TokenHTTP *http.Client
	// Notify sends batch report mails; nil disables them.
	Notify Notifier
	// Source is this server's source core: an endpoint whose RemoteServer
	// is this server (a same-server move) is reached through it
	// in-process, with the same authorization as over HTTP. Nil means
	// every endpoint is reached over HTTP.
	Source *source.Core
	// GW writes the calendars and address books an IMAP batch imports from
	// its endpoint's CalDAV/CardDAV servers (dav.go); nil disables that.
	GW *groupware.Service
	// Quota, when set, makes a move whose source does not fit the target
	// mailbox's or tenant's quota fail validation with QuotaExceeded
	// before anything is copied (quota.go).
	Quota *quota.Checker
	// PassSlice is how long a pass runs before it yields its worker to
	// waiting moves (DefaultPassSlice when zero; passctl.go).
	PassSlice time.Duration

	ctl     passCtl
	running runningPasses // this node's passes, for a stop (stopwatch.go)
	checks  checkCache    // source checks that passed (checkcache.go)
	tokMu   sync.Mutex
	tokens  map[string]*identity.TokenSource // endpoint id + secret hash → source

	rates rateMeter
	oauth oauthTokens

	copiedItems, copiedBytes prometheus.Counter
	slotWaits, slotWakeups   prometheus.Counter
	passYields               prometheus.Counter
}

// New returns the migration service.
func New(d *db.DB, dir *directory.Directory, st *mailstore.Store, publicURL string, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	s := &Service{D: d, Dir: dir, Store: st, PublicURL: strings.TrimSuffix(publicURL, "/"), Log: log,
		TokenHTTP: &http.Client{Timeout: time.Minute},
		Engine:    &replication.Engine{Store: st, Log: log},
		tokens:    map[string]*identity.TokenSource{}}
	strict, _ := netguard.New(nil, nil, nil)
	s.UseGuard(strict)
	s.copiedItems, s.copiedBytes = newCopyCounters()
	s.slotWaits, s.slotWakeups = newSlotCounters()
	s.passYields = newYieldCounter()
	return s
}

// UseGuard sets the endpoint policy (before the service starts).
func (s *Service) UseGuard(g *netguard.Policy) {
	s.Guard, s.HTTP = g, g.HTTPClient(replication.Transport(), 0)
}

// TickInterval is how often the scheduler looks for due work (StartAfter,
// CompleteAfter, incremental syncs).
const TickInterval = 5 * time.Second

// Register adds the service's job workers and its periodic scheduler.
func (s *Service) Register(workers *river.Workers) []*river.PeriodicJob {
	river.AddWorker(workers, &syncWorker{s: s})
	river.AddWorker(workers, &completeWorker{s: s})
	river.AddWorker(workers, &tickWorker{s: s})
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(TickInterval),
		func() (river.JobArgs, *river.InsertOpts) { return TickArgs{}, nil }, &river.PeriodicJobOpts{RunOnStart: true})}
}

// SyncArgs is the job of one sync request of a move: a pass (initial or
// incremental) that covers request Gen. Requests are numbered
// (moves.sync_gen), so a request made while a pass runs gets its own job
// instead of being dropped as a duplicate of the running one, and requests
// already covered by a later pass end at once.
type SyncArgs struct {
	MoveID string `json:"move_id"`
	Gen    int64  `json:"gen"`
}

// Kind implements river.JobArgs.
func (SyncArgs) Kind() string { return "move_sync" }

// InsertOpts keeps at most one pending sync per move.
func (SyncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueMigration, MaxAttempts: 25,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: pendingStates}}
}

// pendingStates make a job unique while it waits or runs; a finished job
// does not block a new one.
var pendingStates = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateScheduled, rivertype.JobStateRetryable}

// CompleteArgs is the job of a move's completion.
type CompleteArgs struct {
	MoveID string `json:"move_id"`
}

// Kind implements river.JobArgs.
func (CompleteArgs) Kind() string { return "move_complete" }

// InsertOpts keeps at most one pending completion per move. A completion
// never gives up on a transient failure (a discarded job would leave the
// move Completing and the source locked): with retries at most
// completionRetryMax apart, the attempts last about a year.
func (CompleteArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueCompletion, MaxAttempts: 500000,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: pendingStates}}
}

// TickArgs is the periodic scheduler job.
type TickArgs struct{}

// Kind implements river.JobArgs.
func (TickArgs) Kind() string { return "migration_tick" }

// InsertOpts puts the tick on the control queue.
func (TickArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueControl, MaxAttempts: 1,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: pendingStates}}
}

// client returns the connector of a native endpoint, with a cached token
// source for the endpoint's app: the in-process connector when the
// endpoint names this server, else the HTTP client.
func (s *Service) client(e *directory.Endpoint) (replication.NativeSource, error) {
	secret, err := s.Dir.EndpointSecret(e)
	if err != nil {
		return nil, err
	}
	key := e.ID + "|" + identity.HashSecret(secret)
	s.tokMu.Lock()
	ts, ok := s.tokens[key]
	if !ok {
		ts = identity.NewTokenSource(s.TokenHTTP, identity.TokenURL(s.PublicURL, e.TenantID), e.ApplicationId, secret, e.RemoteServer)
		s.tokens[key] = ts
	}
	s.tokMu.Unlock()
	if s.Source != nil && sameServer(e.RemoteServer, s.PublicURL) {
		return s.Source.Local(e.RemoteTenant, ts), nil
	}
	return replication.NewClient(s.HTTP, e.RemoteServer, e.RemoteTenant, ts), nil
}

// sameServer reports whether an endpoint's RemoteServer is this server's
// public URL (scheme and host compared without case, a trailing slash
// ignored).
func sameServer(remote, public string) bool {
	norm := func(u string) string { return strings.ToLower(strings.TrimRight(strings.TrimSpace(u), "/")) }
	return public != "" && norm(remote) == norm(public)
}
