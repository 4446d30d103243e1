package identity

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		s := NewSecret("tfs_", 40)
		if len(s) != 44 || !strings.HasPrefix(s, "tfs_") {
			t.Fatalf("secret %q: want tfs_ and 40 characters", s)
		}
		for _, c := range s[4:] {
			if !strings.ContainsRune(secretAlphabet, c) {
				t.Fatalf("secret %q has %q outside the alphabet", s, c)
			}
		}
		if seen[s] {
			t.Fatalf("secret %q repeated", s)
		}
		seen[s] = true
	}
	if s := NewSecret("", 12); len(s) != 12 {
		t.Fatalf("NewSecret(\"\", 12) = %q", s)
	}
	// Every letter of the alphabet turns up (no bias to a subset).
	all := strings.Join(mapKeys(seen), "")
	for _, c := range secretAlphabet {
		if !strings.ContainsRune(all, c) {
			t.Fatalf("letter %q never produced in 8000 characters", c)
		}
	}
}

func mapKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestHashSecret(t *testing.T) {
	s := NewSecret("tfa_", 40)
	h := HashSecret(s)
	if strings.Contains(h, s) || !strings.HasPrefix(h, "sha256:") {
		t.Fatalf("hash %q", h)
	}
	if !CheckSecret(h, s) {
		t.Fatal("CheckSecret rejects the secret")
	}
	if CheckSecret(h, s+"x") || CheckSecret(h, "") || CheckSecret("", s) {
		t.Fatal("CheckSecret accepts a wrong secret")
	}
}

func TestPassword(t *testing.T) {
	h, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$") || strings.Contains(h, "horse") {
		t.Fatalf("hash %q", h)
	}
	if !CheckPassword(h, "correct horse battery staple") {
		t.Fatal("CheckPassword rejects the password")
	}
	for _, wrong := range []string{"correct horse battery stapl", "Correct horse battery staple", ""} {
		if CheckPassword(h, wrong) {
			t.Fatalf("CheckPassword accepts %q", wrong)
		}
	}
	h2, _ := HashPassword("correct horse battery staple")
	if h2 == h {
		t.Fatal("two hashes of one password are equal (no salt)")
	}
	if _, err := HashPassword(""); err == nil {
		t.Fatal("empty password hashed")
	}
	for _, bad := range []string{"", "plain", "$argon2id$v=19$m=x$a$b", "$bcrypt$v=19$m=1,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=19456,t=2,p=1$!!$AAAA"} {
		if CheckPassword(bad, "x") {
			t.Fatalf("CheckPassword accepts hash %q", bad)
		}
	}
}

func TestSealOpen(t *testing.T) {
	key := newServerKey(t)
	plain := []byte("endpoint secret tfs_abc")
	sealed, err := Seal(key, plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, plain) {
		t.Fatal("sealed value contains the plaintext")
	}
	again, _ := Seal(key, plain)
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of one value are equal (nonce reused)")
	}
	got, err := Open(key, sealed)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	for i := range sealed {
		tampered := bytes.Clone(sealed)
		tampered[i] ^= 0x01
		if _, err := Open(key, tampered); err == nil {
			t.Fatalf("tampered byte %d not detected", i)
		}
	}
	if _, err := Open(newServerKey(t), sealed); err == nil {
		t.Fatal("Open with another key succeeded")
	}
	if _, err := Open(key, sealed[:5]); err == nil {
		t.Fatal("Open of a truncated value succeeded")
	}
	if _, err := Seal([]byte("short"), plain); err == nil {
		t.Fatal("Seal with a 5-byte key succeeded")
	}
}

func TestServerKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k1, err := LoadOrCreateServerKey(dir)
	if err != nil || len(k1) != 32 {
		t.Fatalf("create: %x %v", k1, err)
	}
	fi, err := os.Stat(filepath.Join(dir, ServerKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("server key mode %v, want 0600", fi.Mode().Perm())
	}
	k2, err := LoadOrCreateServerKey(dir)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("reload gave another key: %v", err)
	}
	os.WriteFile(filepath.Join(dir, ServerKeyFile), []byte("not hex\n"), 0o600)
	if _, err := LoadOrCreateServerKey(dir); err == nil {
		t.Fatal("a corrupt server key was accepted")
	}
}

// TestCheckPasswordHash: pre-computed hashes are accepted as argon2id PHC
// strings within the accepted costs only.
func TestCheckPasswordHash(t *testing.T) {
	h, err := HashPassword("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckPasswordHash(h); err != nil {
		t.Fatalf("own hash refused: %v", err)
	}
	for _, bad := range []string{
		"", "plain", "$2b$10$abcdefghijklmnopqrstuv", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw", // 4 GiB per check
		"$argon2id$v=19$m=19456,t=2,p=1x$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5aw",
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$a2V5a2V5a2V5a2V5a2V5aw",       // 4-byte salt
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$a2V5",                    // 3-byte key
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5aw", // padded
	} {
		if err := CheckPasswordHash(bad); !errors.Is(err, ErrInvalidPasswordHash) {
			t.Errorf("%q: %v, want InvalidPasswordHash", bad, err)
		}
		if CheckPassword(bad, "s3cret") {
			t.Errorf("%q verified a password", bad)
		}
	}
	if !CheckPassword(h, "s3cret") || CheckPassword(h, "other") {
		t.Fatal("CheckPassword does not verify its own hash")
	}
}
