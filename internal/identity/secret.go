package identity

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/argon2"
)

// secretAlphabet is URL- and shell-safe, so secrets can be pasted anywhere.
const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NewSecret returns a random secret of n characters from a 62-letter
// alphabet (n=40 gives about 238 bits), with an optional prefix that makes the
// secret's purpose recognisable in a file ("tfo_" operator, "tfa_" tenant
// admin, "tfs_" app secret).
func NewSecret(prefix string, n int) string {
	b := make([]byte, n)
	out := make([]byte, n)
	rand.Read(b)
	for i := range b {
		// 248 = 4*62: reject-free for simplicity is slightly biased; reroll
		// values >= 248 to keep the distribution uniform.
		for b[i] >= 248 {
			var one [1]byte
			rand.Read(one[:])
			b[i] = one[0]
		}
		out[i] = secretAlphabet[int(b[i])%len(secretAlphabet)]
	}
	return prefix + string(out)
}

// HashSecret hashes a high-entropy secret (app secret, admin token) for
// storage. Secrets are random, so a fast hash is enough; passwords use
// HashPassword.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// CheckSecret reports whether secret matches a HashSecret value, in constant
// time.
func CheckSecret(hash, secret string) bool {
	want := HashSecret(secret)
	return subtle.ConstantTimeCompare([]byte(hash), []byte(want)) == 1
}

// Argon2id parameters (RFC 9106 second recommended option, scaled down for
// interactive IMAP/SMTP logins).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword returns an argon2id hash of a mailbox password in PHC string
// format. It waits for one of the process's password hash slots (see
// PasswordHashLimit).
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("identity: empty password")
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon(password, phc{m: argonMemory, t: argonTime, p: argonThreads, salt: salt, keyLen: argonKeyLen})
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches a HashPassword value (or
// another argon2id PHC string that CheckPasswordHash accepts). It waits for
// one of the process's password hash slots (see PasswordHashLimit).
func CheckPassword(hash, password string) bool {
	h, err := parsePHC(hash)
	if err != nil {
		return false
	}
	got := argon(password, h)
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

// ServerKeyFile is the name of the server key file in the data directory.
const ServerKeyFile = "server.key"

// LoadOrCreateServerKey returns the 32-byte server key that encrypts secrets
// at rest (endpoint secrets, signing keys). It is read from DATA/server.key,
// created (mode 0600) on first use. Several nodes sharing one PostgreSQL
// database must share this file.
func LoadOrCreateServerKey(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, ServerKeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		key, derr := hex.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil || len(key) != 32 {
			return nil, fmt.Errorf("identity: %s is not a 64-digit hex key", path)
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return LoadOrCreateServerKey(dataDir)
		}
		return nil, err
	}
	defer f.Close()
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		return nil, err
	}
	return key, f.Sync()
}

// Seal encrypts plaintext with the server key (AES-256-GCM, random nonce
// prepended).
func Seal(key, plaintext []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	rand.Read(nonce)
	return gcm.Seal(nonce, nonce, plaintext, nil), nil
}

// Open decrypts a Seal value.
func Open(key, sealed []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("identity: sealed value too short")
	}
	return gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], nil)
}
