package httpx

import "testing"

func TestProblemTitle(t *testing.T) {
	for code, want := range map[string]string{
		"TenantNotFound":       "Tenant not found",
		"InvalidJson":          "Invalid json",
		"UnsupportedMediaType": "Unsupported media type",
		"DkimKeyExists":        "Dkim key exists",
		"OAuthGrantFailed":     "O auth grant failed",
		"NotAcceptedDomain":    "Not accepted domain",
		"InvalidX500Address":   "Invalid X500 address",
		"SMTPRejected":         "SMTP rejected",
		"InternalError":        "Internal error",
		"X":                    "X",
	} {
		if got := ProblemTitle(code); got != want {
			t.Errorf("ProblemTitle(%q) = %q, want %q", code, got, want)
		}
	}
}
