package identity

import (
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// Password hashing is memory-hard on purpose: one argon2id run of
// HashPassword holds argonMemory (19 MiB). Parallel logins, password
// changes and bulk creations would each hold that much at once, so every
// run in the process takes one of a fixed number of slots first; the
// others wait their turn. Memory for password hashing is then bounded by
// PasswordHashLimit runs (and the accepted parameters, CheckPasswordHash).
var (
	hashLimit      = max(runtime.NumCPU(), 2)
	hashSlots      = make(chan struct{}, hashLimit)
	hashesInFlight atomic.Int64
	hashesPeak     atomic.Int64
)

// PasswordHashLimit is the number of password hashes and verifications the
// process runs at once: its CPUs, at least 2.
func PasswordHashLimit() int { return hashLimit }

// PasswordHashStats returns the argon2id runs in flight now and the most
// that were ever in flight at once in this process (a gauge and its high
// watermark, for /metrics and for tests of the bound).
func PasswordHashStats() (inFlight, peak int64) {
	return hashesInFlight.Load(), hashesPeak.Load()
}

// phc is a parsed argon2id PHC string.
type phc struct {
	m, t   uint32
	p      uint8
	salt   []byte
	key    []byte
	keyLen uint32
}

// argon runs argon2id in one of the process's hash slots.
func argon(password string, h phc) []byte {
	hashSlots <- struct{}{}
	n := hashesInFlight.Add(1)
	for {
		peak := hashesPeak.Load()
		if n <= peak || hashesPeak.CompareAndSwap(peak, n) {
			break
		}
	}
	defer func() {
		hashesInFlight.Add(-1)
		<-hashSlots
	}()
	return argon2.IDKey([]byte(password), h.salt, h.t, h.m, h.p, h.keyLen)
}

// Bounds of the argon2id parameters a stored hash may carry: a hash
// imported from elsewhere (mailbox create --csv, PasswordHash) may use
// other costs than HashPassword, within these.
const (
	maxHashMemory  = 64 * 1024 // KiB
	minHashMemory  = 8 * 1024
	maxHashTime    = 10
	maxHashThreads = 4
)

// ErrInvalidPasswordHash: a password hash that is not an argon2id PHC
// string with parameters this server accepts.
var ErrInvalidPasswordHash = errs.Sentinel(errs.Invalid, "InvalidPasswordHash")

// CheckPasswordHash validates a pre-computed password hash: an argon2id
// PHC string $argon2id$v=19$m=M,t=T,p=P$SALT$KEY (unpadded base64) with M
// 8192–65536 KiB, T 1–10, P 1–4, a salt of at least 8 bytes and a key of
// 16 to 64 bytes.
func CheckPasswordHash(hash string) error {
	_, err := parsePHC(hash)
	return err
}

func parsePHC(hash string) (phc, error) {
	bad := func(format string, args ...any) (phc, error) {
		return phc{}, ErrInvalidPasswordHash.Newf("the password hash is not valid: "+format, args...).
			WithHint("give an argon2id PHC string such as $argon2id$v=19$m=19456,t=2,p=1$SALT$KEY (m 8192 to 65536, t 1 to 10, p 1 to 4), or a password instead")
	}
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return bad("it does not start with $argon2id$ and have six $-separated parts")
	}
	if parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return bad("version %q is not v=%d", parts[2], argon2.Version)
	}
	var h phc
	var rest string
	if n, _ := fmt.Sscanf(parts[3]+"|", "m=%d,t=%d,p=%d%s", &h.m, &h.t, &h.p, &rest); n != 4 || rest != "|" {
		return bad("parameters %q are not m=M,t=T,p=P", parts[3])
	}
	if h.m < minHashMemory || h.m > maxHashMemory || h.t < 1 || h.t > maxHashTime || h.p < 1 || h.p > maxHashThreads {
		return bad("parameters %s are outside the accepted costs", parts[3])
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return bad("the salt is not unpadded base64 of at least 8 bytes")
	}
	if h.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return bad("the key is not unpadded base64 of 16 to 64 bytes")
	}
	h.keyLen = uint32(len(h.key))
	return h, nil
}
