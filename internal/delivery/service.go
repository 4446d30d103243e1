package delivery

import (
	"github.com/emersion/go-smtp"

	"crypto/x509"
	"github.com/tenantferry/tenantferry/internal/dnsx"
	"net/http"

	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/jobs"
	"github.com/tenantferry/tenantferry/internal/mailauth"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/quota"
)

// Defaults of the Service tunables.
const (
	DefaultLifetime = 5 * 24 * time.Hour
	// DefaultRetryBase is the first retry's delay, doubling up to
	// DefaultRetryMax: seconds, so that mail released at a cutover (or
	// forwarded by a moved user's MailUser) while the target restarts
	// arrives seconds after it is back, not a minute later.
	DefaultRetryBase       = 5 * time.Second
	DefaultRetryMax        = time.Hour
	DefaultHoldRecheck     = time.Minute
	DefaultMaxHops         = 30
	DefaultMaxForwardDepth = 10
	DefaultRetention       = 7 * 24 * time.Hour
)

// Options are the dependencies and settings of New.
type Options struct {
	DB    *db.DB
	Dir   *directory.Directory
	Store *mailstore.Store // its blob store holds the queued bytes
	// Hostname names this server in Received headers, DSNs and EHLO.
	Hostname string
	// Transports maps lower-case domains to "host:port" next hops, tried
	// before MX lookup (config.TransportMap).
	Transports map[string]string
	Log        *slog.Logger
	// BindAddress is the local IP outbound connections come from ("":
	// the system's choice).
	BindAddress string
	// Auth signs outgoing and forwarded mail, rewrites forwarded senders
	// (SRS) and authenticates MX mail; nil leaves mail as it is.
	Auth *mailauth.Service
	// Quota, when set, refuses mail for full mailboxes (RCPT, DATA and
	// local delivery; see quota.go).
	Quota *quota.Checker
	// Resolver, when set, answers the TLSA and MTA-STS TXT lookups of
	// outbound delivery (tlspolicy.go), and with ResolveHosts its MX and
	// address lookups too (--dns-resolver; else the system's, which
	// honours /etc/hosts).
	Resolver     *dnsx.Resolver
	ResolveHosts bool
	// RootCAs verifies next hops under MTA-STS (nil: the system's roots).
	RootCAs *x509.CertPool
	// STSClient fetches MTA-STS policies over verified HTTPS; nil
	// disables MTA-STS.
	STSClient *http.Client
}

// Service is the delivery core. Create it with New, register its workers
// with Register before the job runner is built, and Attach the runner
// before anything is enqueued. The exported tunables may be changed only
// before the runner starts.
type Service struct {
	d          *db.DB
	dir        *directory.Directory
	store      *mailstore.Store
	blobs      *blobstore.Store
	hostname   string
	transports map[string]string
	log        *slog.Logger
	jobs       *jobs.Runner
	m          *metrics
	auth       *mailauth.Service
	bind       net.IP
	quota      *quota.Checker
	resolver   *dnsx.Resolver
	hostsDNS   bool // MX and addresses through resolver
	rootCAs    *x509.CertPool
	stsHTTP    *http.Client
	sts        stsCache

	// InboundAuth runs the SPF, DKIM, DMARC and ARC checks on mail arriving
	// at the MX (it needs Options.Auth; default true when Auth is set).
	InboundAuth bool

	// Lifetime is how long a message may stay undelivered before it is
	// bounced (default DefaultLifetime).
	Lifetime time.Duration
	// RetryBase is the first retry delay after a temporary failure; it
	// doubles per attempt up to RetryMax.
	RetryBase, RetryMax time.Duration
	// HoldRecheck is when a held delivery is tried again if nobody calls
	// Release (a safety net; Release is the normal path).
	HoldRecheck time.Duration
	// MaxHops is the largest number of Received fields a message may carry;
	// above it the message is bounced as a loop.
	MaxHops int
	// MaxForwardDepth bounds in-process forwarding and group nesting.
	MaxForwardDepth int
	// Retention is how long finished queue rows are kept for inspection.
	Retention time.Duration
	// DialTimeout bounds outbound connection set-up (default 30 s).
	DialTimeout time.Duration
	// LookupMX resolves MX records (default net.DefaultResolver.LookupMX).
	LookupMX func(ctx context.Context, domain string) ([]*net.MX, error)
}

// New returns a delivery service.
func New(o Options) *Service {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Hostname == "" {
		o.Hostname = "localhost"
	}
	tm := map[string]string{}
	for d, a := range o.Transports {
		tm[strings.ToLower(strings.TrimSuffix(d, "."))] = a
	}
	if bs := o.Store.Blobs(); bs != nil {
		bs.AddReferrer("delivery queue", ReferencedBlobs)
	}
	svc := &Service{
		d: o.DB, dir: o.Dir, store: o.Store, blobs: o.Store.Blobs(), hostname: o.Hostname, transports: tm,
		log: o.Log.With("component", "delivery"), m: newMetrics(),
		Lifetime: DefaultLifetime, RetryBase: DefaultRetryBase, RetryMax: DefaultRetryMax, HoldRecheck: DefaultHoldRecheck,
		MaxHops: DefaultMaxHops, MaxForwardDepth: DefaultMaxForwardDepth, Retention: DefaultRetention,
		DialTimeout: 30 * time.Second, LookupMX: net.DefaultResolver.LookupMX,
		auth: o.Auth, InboundAuth: o.Auth != nil, bind: net.ParseIP(o.BindAddress), quota: o.Quota,
		resolver: o.Resolver, hostsDNS: o.Resolver != nil && o.ResolveHosts, rootCAs: o.RootCAs, stsHTTP: o.STSClient, sts: stsCache{m: map[string]*stsPolicy{}},
	}
	if svc.hostsDNS {
		svc.LookupMX = o.Resolver.LookupMX
	}
	return svc
}

// Hostname returns the name this server uses in SMTP.
func (s *Service) Hostname() string { return s.hostname }

// Register adds the delivery workers to the runner's worker set.
func (s *Service) Register(w *river.Workers) {
	river.AddWorker(w, &deliverWorker{s: s})
	river.AddWorker(w, &purgeWorker{s: s})
}

// Attach gives the service the job runner that enqueues and retries
// deliveries. It must be called before Enqueue or Release.
func (s *Service) Attach(r *jobs.Runner) { s.jobs = r }

var errNotAttached = errors.New("delivery: no job runner attached")

// Collectors returns the Prometheus collectors of the service.
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.m.accepted, s.m.results}
}

// metrics are the service's counters.
type metrics struct {
	accepted *prometheus.CounterVec // by source
	results  *prometheus.CounterVec // by result
}

func newMetrics() *metrics {
	return &metrics{
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tenantferry_delivery_accepted_total",
			Help: "Messages accepted into the delivery queue, by source."}, []string{"source"}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tenantferry_delivery_results_total",
			Help: "Recipient outcomes of the delivery queue: delivered, relayed, expanded, bounced, held, deferred."}, []string{"result"}),
	}
}

func (m *metrics) result(r string) { m.results.WithLabelValues(r).Inc() }

// User is an authenticated submission user.
type User struct {
	Address     string // the primary SMTP address used to log in
	TenantID    string
	RecipientID string
	addresses   []string // every SMTP address of the user, lower case
}

// Login checks a submission login with the directory's one login rule
// (directory.Login: any SMTP address of a UserMailbox and its password).
// Any failure is the same 535 5.7.8 error.
func (s *Service) Login(ctx context.Context, username, password string) (*User, error) {
	rec, err := s.dir.Login(ctx, username, password)
	if errors.Is(err, directory.ErrLoginFailed) {
		return nil, ErrAuthFailed
	}
	if err != nil {
		return nil, internal(err, "check login")
	}
	u := &User{Address: rec.PrimarySmtpAddress, TenantID: rec.TenantID, RecipientID: rec.ID}
	for _, a := range rec.SMTPAddresses() {
		u.addresses = append(u.addresses, strings.ToLower(a))
	}
	return u, nil
}

// CheckSender verifies a sender address of an authenticated submission
// (the envelope's MAIL FROM, and each address of the From header field): it
// must be one of the user's own SMTP addresses, or an address of a mailbox
// of the same tenant on which the user holds the SendAs permission
// (Add-RecipientPermission -AccessRights SendAs). Anything else is refused
// with 550 5.7.1; nothing is read from another tenant.
func (s *Service) CheckSender(ctx context.Context, u *User, from string) error {
	if u == nil {
		return errSendAs
	}
	f := strings.ToLower(strings.TrimSpace(from))
	for _, a := range u.addresses {
		if a == f {
			return nil
		}
	}
	if f == "" {
		return errSendAs
	}
	rec, err := s.dir.ResolveAddress(ctx, f)
	if err != nil {
		return internal(err, "resolve sender")
	}
	if rec == nil || rec.TenantID != u.TenantID || rec.Type != directory.UserMailbox {
		return errSendAs
	}
	ok, err := s.dir.HasPermission(ctx, u.TenantID, rec.ID, u.RecipientID, directory.SendAs)
	if err != nil {
		return internal(err, "check SendAs permission")
	}
	if !ok {
		return errSendAs
	}
	return nil
}

// CheckRecipient decides whether a recipient is acceptable at RCPT time.
// Addresses hosted here are accepted whatever their type (mailbox, mail
// user, group); an address in a hosted domain that nobody owns is refused
// with 550 5.1.1; any other address is accepted only when relay is set (an
// authenticated client), else refused with 554 5.7.1. A mailbox over its
// quota (or its tenant's) is refused with 452 4.2.2, or 552 5.2.2 when
// size (MAIL FROM's SIZE, 0 when not declared) is larger than the quota.
func (s *Service) CheckRecipient(ctx context.Context, addr string, relay bool, size int64) error {
	_, domain, ok := SplitAddress(addr)
	if !ok {
		return newErr(501, smtp.EnhancedCode{5, 1, 3}, "bad recipient address syntax")
	}
	rec, err := s.dir.ResolveAddress(ctx, addr)
	if err != nil {
		return internal(err, "resolve recipient")
	}
	if rec != nil {
		return s.quotaRefusal(ctx, rec, size)
	}
	hosted, err := s.hosted(ctx, domain)
	if err != nil {
		return err
	}
	switch {
	case hosted:
		if _, ok, err := s.reverseSRS(addr); ok {
			return err // a bounce to a valid SRS address of ours is accepted
		}
		return errUnknownRecipient
	case relay:
		return nil
	}
	return errRelayDenied
}

// hosted reports whether a tenant accepted the domain.
func (s *Service) hosted(ctx context.Context, domain string) (bool, error) {
	t, err := s.dir.TenantOfDomain(ctx, nil, strings.ToLower(domain))
	if err != nil {
		return false, internal(err, "look up domain")
	}
	return t != "", nil
}

// ReferencedBlobs is delivery's blobstore.Referrer: which blobs queued
// messages reference. New registers it with the blob store.
var ReferencedBlobs = blobstore.ReferrerQuery(`SELECT DISTINCT sha256 FROM queue_messages WHERE sha256 IN (`)
