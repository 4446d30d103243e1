package mailauth

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/dnsx"
)

// Options are the dependencies of New.
type Options struct {
	DB        *db.DB
	Dir       *directory.Directory
	ServerKey []byte         // seals DKIM keys, derives the SRS key
	Resolver  *dnsx.Resolver // every DNS query (SPF, DKIM, DMARC, ARC)
	// Hostname is the authserv-id of the Authentication-Results fields this
	// server adds (serve --hostname).
	Hostname string
	Log      *slog.Logger
}

// Service is the mail authentication core. It is safe for concurrent use.
type Service struct {
	d         *db.DB
	dir       *directory.Directory
	serverKey []byte
	res       *dnsx.Resolver
	hostname  string
	log       *slog.Logger
	// SRS rewrites envelope senders of forwarded mail.
	SRS *SRS
	now func() time.Time
}

// New returns the service.
func New(o Options) *Service {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Hostname == "" {
		o.Hostname = "localhost"
	}
	if o.Resolver == nil {
		o.Resolver = dnsx.New("")
	}
	return &Service{d: o.DB, dir: o.Dir, serverKey: o.ServerKey, res: o.Resolver, hostname: o.Hostname,
		log: o.Log.With("component", "mailauth"), SRS: NewSRS(o.ServerKey), now: time.Now}
}

// Hostname returns the authserv-id.
func (s *Service) Hostname() string { return s.hostname }

// lookupTXT adapts the resolver to go-msgauth's lookup functions, which
// tell "no record" (permerror, none) from a temporary failure (temperror)
// by the net.DNSError flags.
func (s *Service) lookupTXT(ctx context.Context) func(string) ([]string, error) {
	return func(name string) ([]string, error) {
		name = strings.TrimSuffix(name, ".")
		txts, err := s.res.LookupTXT(ctx, name)
		switch {
		case err == nil:
			return txts, nil
		case errors.Is(err, dnsx.ErrNotFound):
			return nil, &net.DNSError{Err: "no such record", Name: name, IsNotFound: true}
		}
		return nil, &net.DNSError{Err: err.Error(), Name: name, IsTemporary: true}
	}
}
