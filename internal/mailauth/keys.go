package mailauth

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/identity"
)

// Algorithm is a DKIM key type.
type Algorithm string

// The key types tenantferry creates: Ed25519 (RFC 8463) and RSA-2048. Mail
// is signed with every active key of its domain, so a domain with both
// carries an Ed25519 and an RSA signature, and receivers that do not know
// Ed25519 still find one they can check.
const (
	Ed25519 Algorithm = "ed25519"
	RSA     Algorithm = "rsa"
)

// rsaBits is the size of the RSA keys created.
const rsaBits = 2048

// DefaultGrace is how long a rotation keeps the old selectors published
// when the caller gives no grace period.
const DefaultGrace = 7 * 24 * time.Hour

// Key states, as `domain dkim list` shows them.
const (
	StateActive   = "Active"   // signs mail; publish its record
	StateRetiring = "Retiring" // replaced by a rotation: no longer signs, keep its record published until RetiredAt
	StateRetired  = "Retired"  // the grace period is over: its record may be removed
)

// Error codes of DKIM key management.
var (
	// ErrDomainNotAccepted: the domain is not an accepted domain of the
	// tenant (or is another tenant's: the same answer, no oracle).
	ErrDomainNotAccepted = errs.Sentinel(errs.NotFound, "DkimDomainNotAccepted")
	// ErrKeyExists: `dkim add` for a domain that already has active keys.
	ErrKeyExists = errs.Sentinel(errs.Conflict, "DkimKeyExists")
	// ErrNoKey: `dkim rotate` for a domain without active keys.
	ErrNoKey = errs.Sentinel(errs.NotFound, "DkimKeyNotFound")
	// ErrBadAlgorithm: an algorithm other than ed25519, rsa or both.
	ErrBadAlgorithm = errs.Sentinel(errs.Invalid, "DkimAlgorithmInvalid")
	// ErrBadGrace: a negative or absurd rotation grace period.
	ErrBadGrace = errs.Sentinel(errs.Invalid, "DkimGraceInvalid")
)

// Key is a DKIM key of a domain, without its private half.
type Key struct {
	ID         int64
	TenantID   string
	Domain     string
	Selector   string
	Algorithm  Algorithm
	PublicKey  string // base64, the p= value
	CreatedAt  time.Time
	RetiringAt time.Time // zero while active
	RetiredAt  time.Time // end of the grace period; zero while active
}

// State returns Active, Retiring or Retired at time now.
func (k *Key) State(now time.Time) string {
	switch {
	case k.RetiringAt.IsZero():
		return StateActive
	case now.Before(k.RetiredAt):
		return StateRetiring
	}
	return StateRetired
}

// RecordName is the DNS name of the key's TXT record.
func (k *Key) RecordName() string { return k.Selector + "._domainkey." + k.Domain }

// RecordValue is the TXT value to publish (RFC 6376 section 3.6.1).
func (k *Key) RecordValue() string {
	return "v=DKIM1; k=" + string(k.Algorithm) + "; p=" + k.PublicKey
}

// ZoneLine is the record in zone-file syntax, the value split into strings
// of at most 255 characters as DNS requires.
func (k *Key) ZoneLine() string {
	v := k.RecordValue()
	var parts []string
	for len(v) > 255 {
		parts = append(parts, `"`+v[:255]+`"`)
		v = v[255:]
	}
	parts = append(parts, `"`+v+`"`)
	return k.RecordName() + ". 3600 IN TXT " + strings.Join(parts, " ")
}

// ParseAlgorithms parses "ed25519", "rsa", "both" or "" (both).
func ParseAlgorithms(s string) ([]Algorithm, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "both", "ed25519,rsa", "rsa,ed25519":
		return []Algorithm{Ed25519, RSA}, nil
	case "ed25519":
		return []Algorithm{Ed25519}, nil
	case "rsa":
		return []Algorithm{RSA}, nil
	}
	return nil, ErrBadAlgorithm.Newf("unknown DKIM key algorithm %q", s).WithObject(s).
		WithHint("use ed25519, rsa or both (the default: one key of each, and mail carries both signatures)")
}

// checkDomain returns the lower-cased domain when the tenant accepted it.
func (s *Service) checkDomain(ctx context.Context, q db.Querier, tenantID, domain string) (string, error) {
	d := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(domain), "."))
	owner, err := s.dir.TenantOfDomain(ctx, q, d)
	if err != nil {
		return "", errs.Internalf(err, "look up domain %s", d)
	}
	if d == "" || owner != tenantID {
		return "", ErrDomainNotAccepted.Newf("%q is not an accepted domain of this tenant", domain).WithObject(domain).
			WithHint("add it first with `tenantferry domain add %s`, or check the spelling and --tenant", domain)
	}
	return d, nil
}

// AddKeys creates the first DKIM keys of an accepted domain of the tenant,
// one per algorithm (nil: Ed25519 and RSA), with dated selectors. A domain
// with active keys is refused with ErrKeyExists (use RotateKeys).
func (s *Service) AddKeys(ctx context.Context, tenantID, domain string, algs []Algorithm) ([]*Key, error) {
	if len(algs) == 0 {
		algs = []Algorithm{Ed25519, RSA}
	}
	gen, err := s.generate(algs)
	if err != nil {
		return nil, err
	}
	var out []*Key
	err = s.d.Write(ctx, func(tx *db.Tx) error {
		d, err := s.checkDomain(ctx, tx, tenantID, domain)
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM dkim_keys WHERE tenant_id = ? AND domain = ? AND retiring_at = 0`, tenantID, d).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrKeyExists.Newf("domain %s already has %d active DKIM key(s)", d, n).WithObject(d).
				WithHint("replace them with `tenantferry domain dkim rotate %s`, or see them with `domain dkim list %s`", d, d)
		}
		out, err = s.insertKeys(ctx, tx, tenantID, d, gen)
		return err
	})
	if err != nil {
		return nil, wrapInternal(err, "add DKIM keys")
	}
	return out, nil
}

// RotateKeys replaces the active keys of a domain by new ones of the same
// algorithms, in one transaction: the new keys sign from now on, the old
// ones become Retiring and stay published for grace (DefaultGrace when 0),
// so mail they signed that is still in transit keeps verifying.
func (s *Service) RotateKeys(ctx context.Context, tenantID, domain string, grace time.Duration) ([]*Key, error) {
	if grace == 0 {
		grace = DefaultGrace
	}
	if grace < 0 || grace > 365*24*time.Hour {
		return nil, ErrBadGrace.Newf("grace period %s is out of range", grace).WithHint("give a duration between 1m and 8760h, e.g. --grace 168h")
	}
	var algs []Algorithm
	d, active, err := s.domainKeys(ctx, tenantID, domain, true)
	if err != nil {
		return nil, err
	}
	if len(active) == 0 {
		return nil, ErrNoKey.Newf("domain %s has no active DKIM key to rotate", d).WithObject(d).
			WithHint("create the first keys with `tenantferry domain dkim add %s`", d)
	}
	seen := map[Algorithm]bool{}
	for _, k := range active {
		if !seen[k.Algorithm] {
			seen[k.Algorithm] = true
			algs = append(algs, k.Algorithm)
		}
	}
	gen, err := s.generate(algs)
	if err != nil {
		return nil, err
	}
	var out []*Key
	err = s.d.Write(ctx, func(tx *db.Tx) error {
		now := s.now()
		res, err := tx.ExecContext(ctx, `UPDATE dkim_keys SET retiring_at = ?, retired_at = ? WHERE tenant_id = ? AND domain = ? AND retiring_at = 0`,
			now.UnixMilli(), now.Add(grace).UnixMilli(), tenantID, d)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNoKey.Newf("domain %s has no active DKIM key to rotate", d).WithObject(d)
		}
		out, err = s.insertKeys(ctx, tx, tenantID, d, gen)
		return err
	})
	if err != nil {
		return nil, wrapInternal(err, "rotate DKIM keys")
	}
	return out, nil
}

// ListKeys returns every key of the domain (all states), newest first.
func (s *Service) ListKeys(ctx context.Context, tenantID, domain string) ([]*Key, error) {
	_, ks, err := s.domainKeys(ctx, tenantID, domain, false)
	return ks, err
}

// domainKeys checks that the tenant accepted the domain and reads its keys
// (activeOnly: the active ones); it returns the normalised domain too.
func (s *Service) domainKeys(ctx context.Context, tenantID, domain string, activeOnly bool) (string, []*Key, error) {
	d, err := s.checkDomain(ctx, nil, tenantID, domain)
	if err != nil {
		return "", nil, err
	}
	ks, err := s.keys(ctx, s.d.Read(), tenantID, d, activeOnly)
	if err != nil {
		return "", nil, errs.Internalf(err, "read DKIM keys")
	}
	return d, ks, nil
}

// generated is a new key pair before it is stored.
type generated struct {
	alg    Algorithm
	sealed []byte
	public string
}

// generate creates one key pair per algorithm and seals the private halves.
func (s *Service) generate(algs []Algorithm) ([]generated, error) {
	var out []generated
	for _, a := range algs {
		var priv crypto.Signer
		var pubDER []byte
		switch a {
		case Ed25519:
			pub, p, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return nil, errs.Internalf(err, "generate Ed25519 key")
			}
			priv, pubDER = p, pub
		case RSA:
			p, err := rsa.GenerateKey(rand.Reader, rsaBits)
			if err != nil {
				return nil, errs.Internalf(err, "generate RSA key")
			}
			der, err := x509.MarshalPKIXPublicKey(&p.PublicKey)
			if err != nil {
				return nil, errs.Internalf(err, "encode RSA key")
			}
			priv, pubDER = p, der
		default:
			return nil, ErrBadAlgorithm.Newf("unknown DKIM key algorithm %q", a).WithHint("use ed25519 or rsa")
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return nil, errs.Internalf(err, "encode private key")
		}
		sealed, err := identity.Seal(s.serverKey, der)
		if err != nil {
			return nil, errs.Internalf(err, "seal private key")
		}
		out = append(out, generated{alg: a, sealed: sealed, public: base64.StdEncoding.EncodeToString(pubDER)})
	}
	return out, nil
}

// insertKeys stores generated keys under fresh dated selectors.
func (s *Service) insertKeys(ctx context.Context, tx *db.Tx, tenantID, domain string, gen []generated) ([]*Key, error) {
	now := s.now()
	var out []*Key
	for _, g := range gen {
		sel, err := s.freeSelector(ctx, tx, domain, now, g.alg)
		if err != nil {
			return nil, err
		}
		var id int64
		err = tx.QueryRowContext(ctx, `INSERT INTO dkim_keys (tenant_id, domain, selector, algorithm, private_sealed, public_key, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, tenantID, domain, sel, string(g.alg), g.sealed, g.public, now.UnixMilli()).Scan(&id)
		if err != nil {
			return nil, err
		}
		out = append(out, &Key{ID: id, TenantID: tenantID, Domain: domain, Selector: sel, Algorithm: g.alg, PublicKey: g.public,
			CreatedAt: time.UnixMilli(now.UnixMilli())})
	}
	return out, nil
}

// freeSelector returns "tf" + the date + "e" (Ed25519) or "r" (RSA), with a
// number appended when that selector was used already for the domain.
func (s *Service) freeSelector(ctx context.Context, tx *db.Tx, domain string, now time.Time, alg Algorithm) (string, error) {
	base := "tf" + now.UTC().Format("20060102") + string(alg[0])
	for i := 1; ; i++ {
		sel := base
		if i > 1 {
			sel = fmt.Sprintf("%s%d", base, i)
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM dkim_keys WHERE domain = ? AND selector = ?`, domain, sel).Scan(&n); err != nil {
			return "", err
		}
		if n == 0 {
			return sel, nil
		}
	}
}

// keys reads a domain's keys, newest first; activeOnly keeps active ones.
func (s *Service) keys(ctx context.Context, q db.Querier, tenantID, domain string, activeOnly bool) ([]*Key, error) {
	query := `SELECT id, selector, algorithm, public_key, created_at, retiring_at, retired_at FROM dkim_keys WHERE tenant_id = ? AND domain = ?`
	if activeOnly {
		query += ` AND retiring_at = 0`
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY created_at DESC, id DESC`, tenantID, domain)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Key
	for rows.Next() {
		k := &Key{TenantID: tenantID, Domain: domain}
		var alg string
		var created, retiring, retired int64
		if err := rows.Scan(&k.ID, &k.Selector, &alg, &k.PublicKey, &created, &retiring, &retired); err != nil {
			return nil, err
		}
		k.Algorithm, k.CreatedAt = Algorithm(alg), time.UnixMilli(created)
		if retiring > 0 {
			k.RetiringAt, k.RetiredAt = time.UnixMilli(retiring), time.UnixMilli(retired)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// signingKey is an active key with its private half.
type signingKey struct {
	Key
	signer crypto.Signer
}

// signingKeys returns the tenant's active keys for domain, unsealed, Ed25519
// first. A domain of another tenant has none.
func (s *Service) signingKeys(ctx context.Context, tenantID, domain string) ([]signingKey, error) {
	d := strings.ToLower(strings.TrimSuffix(domain, "."))
	rows, err := s.d.Read().QueryContext(ctx, `SELECT id, selector, algorithm, private_sealed FROM dkim_keys
		WHERE tenant_id = ? AND domain = ? AND retiring_at = 0 ORDER BY algorithm, id`, tenantID, d)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []signingKey
	for rows.Next() {
		k := signingKey{Key: Key{TenantID: tenantID, Domain: d}}
		var alg string
		var sealed []byte
		if err := rows.Scan(&k.ID, &k.Selector, &alg, &sealed); err != nil {
			return nil, err
		}
		k.Algorithm = Algorithm(alg)
		der, err := identity.Open(s.serverKey, sealed)
		if err != nil {
			return nil, fmt.Errorf("unseal DKIM key %s of %s (is server.key the one it was created with?): %w", k.Selector, d, err)
		}
		p, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("parse DKIM key %s of %s: %w", k.Selector, d, err)
		}
		signer, ok := p.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("DKIM key %s of %s: unsupported key type %T", k.Selector, d, p)
		}
		k.signer = signer
		out = append(out, k)
	}
	return out, rows.Err()
}

// wrapInternal passes coded errors through and wraps anything else.
func wrapInternal(err error, what string) error {
	if errs.As(err) != nil {
		return err
	}
	return errs.Internalf(err, "%s", what)
}
