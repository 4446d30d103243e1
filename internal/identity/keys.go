package identity

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// AlgEdDSA is the JWS algorithm of every token this server signs (RFC 8037).
const AlgEdDSA = "EdDSA"

// RotationOverlap is how long Rotate keeps the previous signing keys
// published in the JWKS, so tokens they signed stay verifiable until they
// expire. Tokens issued with a longer lifetime than this stop verifying once
// their key is unpublished.
const RotationOverlap = 24 * time.Hour

// keyRecheck is how often a Keys re-reads which key is active, so that a
// rotation done by another process sharing the database is picked up.
const keyRecheck = time.Minute

// signingKeysLock is the PostgreSQL advisory lock that serialises creation
// and rotation of signing keys between processes sharing one database.
const signingKeysLock = 0x7466_6b65_7973 // "tfkeys"

// Keys manages this server's Ed25519 signing keys, stored in the
// signing_keys table with the private half sealed by the server key.
//
// The row semantics: retired_at = 0 marks a current key; the first current
// key by (created_at, kid) signs. A key with retired_at > 0 no longer signs
// and stays published in the JWKS until retired_at (unix ms) has passed.
//
// Keys is safe for concurrent use, and several processes may share one
// database: creation and rotation are serialised in the database, and every
// process converges on the same active key.
type Keys struct {
	d         *db.DB
	serverKey []byte

	mu      sync.Mutex
	kid     string
	priv    ed25519.PrivateKey
	checked time.Time
}

// NewKeys returns the signing keys stored in d, unsealed with serverKey (see
// LoadOrCreateServerKey). Nothing is read or created until first use.
func NewKeys(d *db.DB, serverKey []byte) *Keys {
	return &Keys{d: d, serverKey: serverKey}
}

// JWK is one public key in RFC 7517 / RFC 8037 form.
type JWK struct {
	Kty string `json:"kty"`           // "OKP"
	Crv string `json:"crv"`           // "Ed25519"
	X   string `json:"x"`             // the public key, base64url without padding
	Kid string `json:"kid"`           // key id, matches the JWT header "kid"
	Use string `json:"use,omitempty"` // "sig"
	Alg string `json:"alg,omitempty"` // "EdDSA"
}

// JWKSet is a JSON Web Key Set as served at the JWKS URL.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// newJWK returns the JWK of an Ed25519 public key.
func newJWK(kid string, pub ed25519.PublicKey) JWK {
	return JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub), Kid: kid, Use: "sig", Alg: AlgEdDSA}
}

// JWKS returns every published public key: the current ones and the
// rotated ones whose overlap has not yet passed. It creates the first key if
// there is none yet, so a fresh server never publishes an empty set.
func (k *Keys) JWKS(ctx context.Context) (JWKSet, error) {
	if _, _, err := k.signer(ctx); err != nil {
		return JWKSet{}, err
	}
	rows, err := k.d.Read().QueryContext(ctx,
		`SELECT kid, public_key FROM signing_keys WHERE alg = ? AND (retired_at = 0 OR retired_at > ?) ORDER BY created_at, kid`,
		AlgEdDSA, db.Now())
	if err != nil {
		return JWKSet{}, errs.Internalf(err, "cannot read the signing keys")
	}
	defer rows.Close()
	set := JWKSet{Keys: []JWK{}}
	for rows.Next() {
		var kid string
		var pub []byte
		if err := rows.Scan(&kid, &pub); err != nil {
			return JWKSet{}, errs.Internalf(err, "cannot read the signing keys")
		}
		if len(pub) != ed25519.PublicKeySize {
			continue
		}
		set.Keys = append(set.Keys, newJWK(kid, pub))
	}
	if err := rows.Err(); err != nil {
		return JWKSet{}, errs.Internalf(err, "cannot read the signing keys")
	}
	return set, nil
}

// Rotate adds a new signing key that signs from now on, and keeps the
// previous keys published for RotationOverlap. It returns the new key id.
func (k *Keys) Rotate(ctx context.Context) (string, error) {
	kid, row, priv, err := k.newKey()
	if err != nil {
		return "", err
	}
	err = k.d.Write(ctx, func(tx *db.Tx) error {
		if err := lockSigningKeys(ctx, tx); err != nil {
			return err
		}
		now := db.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE signing_keys SET retired_at = ? WHERE retired_at = 0`,
			now+RotationOverlap.Milliseconds()); err != nil {
			return err
		}
		return insertKey(ctx, tx, row, now)
	})
	if err != nil {
		return "", errs.Internalf(err, "cannot rotate the signing key")
	}
	k.mu.Lock()
	k.kid, k.priv, k.checked = kid, priv, time.Now()
	k.mu.Unlock()
	return kid, nil
}

// sign signs claims with the active key, setting the "kid" header.
func (k *Keys) sign(ctx context.Context, claims jwt.Claims) (string, error) {
	kid, priv, err := k.signer(ctx)
	if err != nil {
		return "", err
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = kid
	s, err := t.SignedString(priv)
	if err != nil {
		return "", errs.Internalf(err, "cannot sign a token")
	}
	return s, nil
}

// publicKey returns the published public key with the given id, or nil if
// there is none (unknown, or retired and past its overlap).
func (k *Keys) publicKey(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	var pub []byte
	err := k.d.Read().QueryRowContext(ctx,
		`SELECT public_key FROM signing_keys WHERE kid = ? AND alg = ? AND (retired_at = 0 OR retired_at > ?)`,
		kid, AlgEdDSA, db.Now()).Scan(&pub)
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, errs.Internalf(err, "cannot read signing key %s", kid)
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, nil
	}
	return pub, nil
}

// keyRow is a signing_keys row to insert.
type keyRow struct {
	kid        string
	privateEnc []byte
	publicKey  []byte
}

// newKey generates a key pair and seals its private half.
func (k *Keys) newKey() (string, keyRow, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return "", keyRow{}, nil, errs.Internalf(err, "cannot generate a signing key")
	}
	sealed, err := Seal(k.serverKey, priv.Seed())
	if err != nil {
		return "", keyRow{}, nil, errs.Internalf(err, "cannot seal the signing key with the server key")
	}
	kid := NewSecret("", 12)
	return kid, keyRow{kid: kid, privateEnc: sealed, publicKey: pub}, priv, nil
}

func insertKey(ctx context.Context, tx *db.Tx, r keyRow, now int64) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO signing_keys (kid, alg, private_enc, public_key, created_at, retired_at) VALUES (?, ?, ?, ?, ?, 0)`,
		r.kid, AlgEdDSA, r.privateEnc, r.publicKey, now)
	return err
}

// lockSigningKeys serialises key creation and rotation between processes
// sharing a PostgreSQL database. SQLite serialises all writers already.
func lockSigningKeys(ctx context.Context, tx *db.Tx) error {
	if tx.DB().Dialect != db.Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, int64(signingKeysLock))
	return err
}

// activeQuery selects the signing key: the first current key by created_at.
const activeQuery = `SELECT kid, private_enc, public_key FROM signing_keys
	WHERE retired_at = 0 AND alg = ? ORDER BY created_at, kid LIMIT 1`

// signer returns the active key, loading or creating it when needed.
func (k *Keys) signer(ctx context.Context) (string, ed25519.PrivateKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.priv != nil && time.Since(k.checked) < keyRecheck {
		return k.kid, k.priv, nil
	}
	kid, enc, pub, err := k.readActive(ctx, k.d.Read())
	if err != nil {
		return "", nil, err
	}
	if kid == "" {
		kid, enc, pub, err = k.create(ctx)
		if err != nil {
			return "", nil, err
		}
	}
	if kid == k.kid && k.priv != nil {
		k.checked = time.Now()
		return k.kid, k.priv, nil
	}
	priv, err := k.unseal(kid, enc, pub)
	if err != nil {
		return "", nil, err
	}
	k.kid, k.priv, k.checked = kid, priv, time.Now()
	return kid, priv, nil
}

// readActive returns the active key row, or kid "" when there is none.
func (k *Keys) readActive(ctx context.Context, q db.Querier) (kid string, enc, pub []byte, err error) {
	err = q.QueryRowContext(ctx, activeQuery, AlgEdDSA).Scan(&kid, &enc, &pub)
	if db.IsNoRows(err) {
		return "", nil, nil, nil
	}
	if err != nil {
		return "", nil, nil, errs.Internalf(err, "cannot read the signing key")
	}
	return kid, enc, pub, nil
}

// create inserts the first key unless another process did so meanwhile,
// and returns whichever key is active afterwards.
func (k *Keys) create(ctx context.Context) (kid string, enc, pub []byte, err error) {
	for attempt := 0; attempt < 3; attempt++ {
		_, row, _, err := k.newKey()
		if err != nil {
			return "", nil, nil, err
		}
		err = k.d.Write(ctx, func(tx *db.Tx) error {
			if err := lockSigningKeys(ctx, tx); err != nil {
				return err
			}
			var e error
			kid, enc, pub, e = k.readActive(ctx, tx)
			if e != nil || kid != "" {
				return e
			}
			if e := insertKey(ctx, tx, row, db.Now()); e != nil {
				return e
			}
			// Re-read: should another writer have slipped in a key, the
			// first by created_at wins for everyone.
			kid, enc, pub, e = k.readActive(ctx, tx)
			return e
		})
		if err == nil && kid != "" {
			return kid, enc, pub, nil
		}
		if err != nil && !db.IsUnique(err) {
			return "", nil, nil, errs.Internalf(err, "cannot create the signing key")
		}
	}
	return "", nil, nil, errs.Internalf(nil, "cannot create the signing key: repeated key id conflicts")
}

// unseal opens a stored private key and checks it matches its public half.
func (k *Keys) unseal(kid string, enc, pub []byte) (ed25519.PrivateKey, error) {
	seed, err := Open(k.serverKey, enc)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, (&errs.Error{
			Code:    "SigningKeyUnreadable",
			Kind:    errs.Internal,
			Message: fmt.Sprintf("signing key %s cannot be unsealed with this server's key", kid),
			Hint:    "every server sharing a database must use the same " + ServerKeyFile + " (or configured server key)",
			Object:  kid,
			Cause:   err,
		})
	}
	priv := ed25519.NewKeyFromSeed(seed)
	if !bytes.Equal(priv.Public().(ed25519.PublicKey), pub) {
		return nil, &errs.Error{
			Code:    "SigningKeyUnreadable",
			Kind:    errs.Internal,
			Message: fmt.Sprintf("signing key %s does not match its stored public key", kid),
			Hint:    "the signing_keys row was altered; rotate the signing key",
			Object:  kid,
		}
	}
	return priv, nil
}
