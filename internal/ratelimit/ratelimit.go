// Package ratelimit slows down password and token guessing, bounds the
// open connections of one client address, and the message rate of one
// submitting account.
//
// Failed authentications are counted per client address (an IPv4 address,
// or an IPv6 /64) and per account, in token buckets (golang.org/x/time/rate)
// that refill at Config.AuthFailures per Config.AuthWindow. A key whose
// bucket runs dry is locked out: every attempt is refused, before its
// credentials are looked at, for Config.Lockout, doubled at each further
// lockout of that key up to Config.MaxLockout; a failure soon after a
// lockout ends locks the key out again at once. The account limit is
// higher than the address limit, so one guessing address is stopped long
// before its victim's account is; an address that logged in to an account
// before is not held by that account's lockout, so the user keeps
// working while the account is attacked from elsewhere.
//
// Invariants:
//   - a nil *Guard allows everything (tests and tools that need no limits);
//   - no address is exempt, loopback included: the tests guess passwords
//     from 127.0.0.1 like an attacker would from anywhere;
//   - state is in memory, per process: a restart forgets it (the limits
//     are about rates, and a restart takes seconds);
//   - every refusal and failure is logged with the client address and
//     counted in /metrics (tenantferry_auth_failures_total,
//     tenantferry_ratelimit_refusals_total).
package ratelimit

import (
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// Errors of the guard, matched with errors.Is.
var (
	// ErrTooManyAttempts refuses an authentication from an address or for
	// an account that failed too often; retry later.
	ErrTooManyAttempts = errs.Sentinel(errs.RateLimited, "TooManyAttempts")
	// ErrMessageRate refuses a message from an account over its
	// submission rate.
	ErrMessageRate = errs.Sentinel(errs.RateLimited, "MessageRateExceeded")
)

// Defaults of Config.
const (
	DefaultAuthFailures    = 10
	DefaultAuthWindow      = time.Minute
	DefaultLockout         = time.Minute
	DefaultMaxLockout      = time.Hour
	DefaultConnsPerIP      = 50
	DefaultMessagesPerHour = 1000
	// knownGoodFor is how long a successful login exempts its address
	// from its account's lockout.
	knownGoodFor = 30 * 24 * time.Hour
)

// Config sets the limits; zero fields take the defaults.
type Config struct {
	// AuthFailures is how many failed authentications one client address
	// may make per AuthWindow before it is locked out; an account may fail
	// three times as many, from all addresses together.
	AuthFailures int
	AuthWindow   time.Duration
	// Lockout is the first lockout's length; each further lockout of the
	// same key doubles it, up to MaxLockout.
	Lockout, MaxLockout time.Duration
	// ConnsPerIP bounds the open connections of one client address on
	// each listener.
	ConnsPerIP int
	// MessagesPerHour bounds the messages one authenticated account
	// submits per hour (a burst of that many, refilled evenly).
	MessagesPerHour int
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.AuthFailures, DefaultAuthFailures)
	defD(&c.AuthWindow, DefaultAuthWindow)
	defD(&c.Lockout, DefaultLockout)
	defD(&c.MaxLockout, DefaultMaxLockout)
	def(&c.ConnsPerIP, DefaultConnsPerIP)
	def(&c.MessagesPerHour, DefaultMessagesPerHour)
	return c
}

// bucket is one key's failure (or message) budget and lockout state.
type bucket struct {
	lim         *rate.Limiter
	lockedUntil time.Time
	lockouts    int           // consecutive lockouts, for the backoff
	lastLen     time.Duration // the last lockout's length
	window      time.Duration // a drained bucket is full again after this
	lastSeen    time.Time
}

// Guard holds the limiters. Create it with New; its methods are safe for
// concurrent use.
type Guard struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket   // "ip:<addr>", "acct:<name>", "msg:<name>"
	knownGood map[string]time.Time // account + "\x00" + address → last success
	conns     map[string]int       // listener + "\x00" + address → open connections
	pruned    time.Time

	failures *prometheus.CounterVec
	refusals *prometheus.CounterVec
}

// New returns a guard with the limits of cfg.
func New(cfg Config, log *slog.Logger) *Guard {
	if log == nil {
		log = slog.Default()
	}
	return &Guard{cfg: cfg.withDefaults(), log: log.With("component", "ratelimit"), now: time.Now,
		buckets: map[string]*bucket{}, knownGood: map[string]time.Time{}, conns: map[string]int{},
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tenantferry_auth_failures_total",
			Help: "Failed authentications, by protocol."}, []string{"protocol"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tenantferry_ratelimit_refusals_total",
			Help: "Attempts refused by a rate or connection limit, by protocol and limit (auth_address, auth_account, connections, messages)."},
			[]string{"protocol", "limit"}),
	}
}

// Collectors returns the guard's Prometheus collectors.
func (g *Guard) Collectors() []prometheus.Collector {
	return []prometheus.Collector{g.failures, g.refusals}
}

// Config returns the limits in force.
func (g *Guard) Config() Config { return g.cfg }

// AddressKey is the key of a client address: the IP of "host:port" or of a
// bare IP, an IPv6 address cut to its /64 (one customer's network).
func AddressKey(addr string) string {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// bucketLocked returns the key's bucket, created with a burst of n
// refilled over window.
func (g *Guard) bucketLocked(key string, n int, window time.Duration) *bucket {
	b := g.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(rate.Every(window/time.Duration(n)), n), window: window}
		g.buckets[key] = b
	}
	b.lastSeen = g.now()
	return b
}

// accountKey normalizes an account name (addresses are case-insensitive).
func accountKey(account string) string { return strings.ToLower(strings.TrimSpace(account)) }

// Allow decides, before credentials are checked, whether an
// authentication over proto from addr for account may be tried: it
// returns ErrTooManyAttempts (with the time to wait) while the address,
// or the account for an address that never logged in to it, is locked
// out. account may be empty (a token that names no account).
func (g *Guard) Allow(proto, addr, account string) error {
	if g == nil {
		return nil
	}
	ip, acct := AddressKey(addr), accountKey(account)
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	g.pruneLocked(now)
	if b := g.buckets["ip:"+ip]; b != nil && now.Before(b.lockedUntil) {
		return g.refuseLocked(proto, "auth_address", ip, acct, b.lockedUntil.Sub(now))
	}
	if acct == "" {
		return nil
	}
	if b := g.buckets["acct:"+acct]; b != nil && now.Before(b.lockedUntil) {
		if t, ok := g.knownGood[acct+"\x00"+ip]; !ok || now.Sub(t) > knownGoodFor {
			return g.refuseLocked(proto, "auth_account", ip, acct, b.lockedUntil.Sub(now))
		}
	}
	return nil
}

// refuseLocked counts and logs a refusal and returns its error.
func (g *Guard) refuseLocked(proto, limit, ip, acct string, wait time.Duration) error {
	g.refusals.WithLabelValues(proto, limit).Inc()
	wait = wait.Round(time.Second) + time.Second
	g.log.Warn("authentication refused: too many failures", "protocol", proto, "ip", ip, "account", acct, "limit", limit, "retry_after", wait)
	what := "this address"
	if limit == "auth_account" {
		what = "this account"
	}
	return ErrTooManyAttempts.Newf("too many failed authentications from %s; try again in %s", what, wait).
		WithHint("wait, and check the user name and password; the operator sets the limits (--auth-failures, --auth-lockout)")
}

// Failed records a failed authentication: it is logged with the address,
// counted, and taken from the address's and the account's budgets; a
// budget that runs dry starts (or extends, doubled) that key's lockout.
func (g *Guard) Failed(proto, addr, account string) {
	if g == nil {
		return
	}
	ip, acct := AddressKey(addr), accountKey(account)
	g.failures.WithLabelValues(proto).Inc()
	g.log.Info("authentication failed", "protocol", proto, "ip", ip, "account", acct)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.spendLocked("ip:"+ip, g.cfg.AuthFailures)
	if acct != "" {
		g.spendLocked("acct:"+acct, 3*g.cfg.AuthFailures)
	}
}

// spendLocked takes one failure from key's budget of n per AuthWindow and
// locks the key out when none was left. A key that failed again within
// its last lockout's length after that lockout ended (on probation) is
// locked out again at once, for twice as long.
func (g *Guard) spendLocked(key string, n int) {
	b := g.bucketLocked(key, n, g.cfg.AuthWindow)
	now := g.now()
	if now.Before(b.lockedUntil) {
		return // already locked out
	}
	probation := b.lockouts > 0 && now.Before(b.lockedUntil.Add(b.lastLen))
	if b.lim.AllowN(now, 1) && !probation {
		return
	}
	b.lastLen = min(g.cfg.Lockout<<min(b.lockouts, 20), g.cfg.MaxLockout)
	b.lockedUntil = now.Add(b.lastLen)
	b.lockouts++
	g.log.Warn("locked out after too many failed authentications", "key", key, "until", b.lockedUntil.UTC().Format(time.RFC3339), "lockouts", b.lockouts)
}

// Succeeded records a successful authentication: the address becomes
// known to the account (not held by its lockout), and the address's
// backoff starts over.
func (g *Guard) Succeeded(proto, addr, account string) {
	if g == nil {
		return
	}
	ip, acct := AddressKey(addr), accountKey(account)
	g.mu.Lock()
	defer g.mu.Unlock()
	if acct != "" {
		g.knownGood[acct+"\x00"+ip] = g.now()
	}
	if b := g.buckets["ip:"+ip]; b != nil && !g.now().Before(b.lockedUntil) {
		b.lockouts = 0
	}
}

// Message takes one message from the submitting account's hourly budget,
// or returns ErrMessageRate.
func (g *Guard) Message(proto, addr, account string) error {
	if g == nil {
		return nil
	}
	acct := accountKey(account)
	g.mu.Lock()
	defer g.mu.Unlock()
	b := g.bucketLocked("msg:"+acct, g.cfg.MessagesPerHour, time.Hour)
	r := b.lim.ReserveN(g.now(), 1)
	if r.OK() && r.DelayFrom(g.now()) == 0 {
		return nil
	}
	wait := time.Hour / time.Duration(g.cfg.MessagesPerHour)
	if r.OK() {
		wait = r.DelayFrom(g.now())
		r.CancelAt(g.now())
	}
	g.refusals.WithLabelValues(proto, "messages").Inc()
	g.log.Warn("message refused: submission rate exceeded", "protocol", proto, "ip", AddressKey(addr), "account", acct, "per_hour", g.cfg.MessagesPerHour)
	return ErrMessageRate.Newf("%s has sent %d messages in the last hour, its limit; try again in %s", acct, g.cfg.MessagesPerHour, wait.Round(time.Second)+time.Second).
		WithHint("the operator sets the limit (--messages-per-hour)")
}

// pruneLocked drops, once a minute, the state that no longer limits
// anything: full buckets not locked out, and stale known addresses.
func (g *Guard) pruneLocked(now time.Time) {
	if now.Sub(g.pruned) < time.Minute {
		return
	}
	g.pruned = now
	for k, b := range g.buckets {
		idle := now.Sub(b.lastSeen)
		if now.After(b.lockedUntil) && idle > b.window && (idle > g.cfg.MaxLockout || b.lockouts == 0) {
			delete(g.buckets, k)
		}
	}
	for k, t := range g.knownGood {
		if now.Sub(t) > knownGoodFor {
			delete(g.knownGood, k)
		}
	}
}
