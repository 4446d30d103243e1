package mailauth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSRS(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	a := NewSRS(key)
	a.now = func() time.Time { return now }

	fwd := a.Forward("Alice.Smith@Orig.example", "contoso.example")
	if !strings.HasPrefix(fwd, "SRS0=") || !strings.HasSuffix(fwd, "@contoso.example") || !IsSRS(fwd) {
		t.Fatalf("Forward = %q", fwd)
	}
	back, ok, err := a.Reverse(fwd)
	if err != nil || !ok || back != "Alice.Smith@orig.example" {
		t.Fatalf("Reverse(%q) = %q, %v, %v", fwd, back, ok, err)
	}
	// Case changes by other MTAs do not break it.
	if back, _, err := a.Reverse(strings.ToUpper(fwd[:len(fwd)-len("@contoso.example")]) + "@contoso.example"); err != nil || !strings.EqualFold(back, "alice.smith@orig.example") {
		t.Fatalf("upper-cased: %q, %v", back, err)
	}
	// Unchanged: the null sender, a sender of the forwarding domain itself.
	if a.Forward("", "contoso.example") != "" || a.Forward("bob@contoso.example", "contoso.example") != "bob@contoso.example" {
		t.Fatal("null sender or own domain rewritten")
	}

	// A second forwarder (another key) turns our SRS0 into SRS1 and routes
	// the bounce back to us; we then reverse our own SRS0.
	b := NewSRS([]byte("another server key, 32 bytes ..."))
	b.now = a.now
	srs1 := b.Forward(fwd, "fabrikam.example")
	if !strings.HasPrefix(srs1, "SRS1=") || !strings.HasSuffix(srs1, "@fabrikam.example") {
		t.Fatalf("SRS1 = %q", srs1)
	}
	if again := b.Forward(srs1, "third.example"); !strings.HasPrefix(again, "SRS1=") || !strings.Contains(again, "=contoso.example==") {
		t.Fatalf("SRS1 of SRS1 = %q", again)
	}
	hop, ok, err := b.Reverse(srs1)
	if err != nil || !ok || hop != fwd {
		t.Fatalf("Reverse(SRS1) = %q, %v (want %q)", hop, err, fwd)
	}
	if _, _, err := a.Reverse(srs1); !errors.Is(err, ErrSRSInvalid) {
		t.Fatalf("SRS1 of another key accepted: %v", err)
	}

	// Forged and expired addresses.
	for _, bad := range []string{
		"SRS0=aaaaaaaa" + fwd[len("SRS0=")+8:],
		strings.Replace(fwd, "=orig.example=", "=evil.example=", 1),
		"SRS0=x@contoso.example",
		"SRS1=abc@contoso.example",
	} {
		if _, ok, err := a.Reverse(bad); !ok || !errors.Is(err, ErrSRSInvalid) {
			t.Errorf("Reverse(%q) = %v, %v; want ErrSRSInvalid", bad, ok, err)
		}
	}
	a.now = func() time.Time { return now.Add(SRSMaxAge + 48*time.Hour) }
	if _, _, err := a.Reverse(fwd); !errors.Is(err, ErrSRSInvalid) {
		t.Fatalf("expired address accepted: %v", err)
	}
	a.now = func() time.Time { return now.Add(SRSMaxAge - 24*time.Hour) }
	if _, _, err := a.Reverse(fwd); err != nil {
		t.Fatalf("address within the max age refused: %v", err)
	}
	if _, ok, _ := a.Reverse("alice@contoso.example"); ok {
		t.Fatal("plain address taken for SRS")
	}
}
