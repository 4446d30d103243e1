package migration

import "testing"

// TestSameServer: an endpoint naming this server's public URL (however
// spelled) is a same-server move, run through the source core in-process;
// anything else goes over HTTP.
func TestSameServer(t *testing.T) {
	const pub = "http://127.0.0.1:8080"
	for remote, want := range map[string]bool{
		"http://127.0.0.1:8080":   true,
		"http://127.0.0.1:8080/":  true,
		" HTTP://127.0.0.1:8080 ": true,
		"http://127.0.0.1:8081":   false,
		"https://127.0.0.1:8080":  false,
		"http://localhost:8080":   false,
		"":                        false,
	} {
		if got := sameServer(remote, pub); got != want {
			t.Errorf("sameServer(%q) = %v", remote, got)
		}
	}
	if sameServer("", "") {
		t.Error("an empty public URL matched")
	}
}
