package units

import "testing"

func TestParseBytes(t *testing.T) {
	good := map[string]int64{
		"0": 0, "unlimited": 0, "Unlimited": 0, "1048576": 1 << 20, "512B": 512, "10KB": 10 << 10,
		"10 KiB": 10 << 10, "2MB": 2 << 20, "1.5GB": 3 << 29, "50 GB": 50 << 30, "1t": 1 << 40, "3m": 3 << 20,
	}
	for in, want := range good {
		got, err := ParseBytes(in)
		if err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "GB", "ten MB", "1e30GB", "NaN", "1.5.2MB"} {
		if n, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q) = %d, want an error", in, n)
		}
	}
}
