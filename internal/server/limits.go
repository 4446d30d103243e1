package server

import (
	"github.com/tenantferry/tenantferry/internal/ratelimit"
)

// httpConnFactor is how many more connections per address the HTTP
// listener allows than a mail listener: replication between servers and
// browsers open several connections at once.
const httpConnFactor = 4

// setupLimits builds the abuse limits of the configuration, registers
// their metrics, and wraps the HTTP listener (mail listeners are wrapped
// as they are bound, in listen).
func (s *Server) setupLimits() {
	cfg := ratelimit.Config{AuthFailures: int(s.Cfg.AuthFailures), Lockout: s.Cfg.AuthLockout,
		ConnsPerIP: int(s.Cfg.MaxConnsPerIP), MessagesPerHour: int(s.Cfg.MessagesPerHour)}
	s.Limits = ratelimit.New(cfg, s.Log)
	s.Metrics.Registry.MustRegister(s.Limits.Collectors()...)
	var refusal []byte
	if !s.Cfg.HasTLS() {
		refusal = connRefusals["http"]
	}
	s.httpLn = s.Limits.Listener(s.httpLn, "http", httpConnFactor*s.Limits.Config().ConnsPerIP, refusal)
}
