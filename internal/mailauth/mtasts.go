package mailauth

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// MTA-STS (RFC 8461), the publishing side: the policy this server serves
// at https://mta-sts.DOMAIN/.well-known/mta-sts.txt for every accepted
// domain whose MX it is, and the id of the _mta-sts TXT record that
// announces it.

// MTASTSMaxAge is the policy's max_age: one week, as RFC 8461 section
// 3.2 suggests for a stable deployment.
const MTASTSMaxAge = 7 * 24 * 3600

// MTASTSPolicy is the policy text for mail to a domain whose MX is
// hostname: mode enforce when the server has a certificate senders can
// verify, else testing (senders report failures but deliver).
func MTASTSPolicy(hostname string, enforce bool) string {
	mode := "testing"
	if enforce {
		mode = "enforce"
	}
	return fmt.Sprintf("version: STSv1\r\nmode: %s\r\nmx: %s\r\nmax_age: %d\r\n", mode, strings.ToLower(hostname), MTASTSMaxAge)
}

// MTASTSID is the id of a policy for its TXT record: it changes whenever
// the policy does, so that senders fetch the new one.
func MTASTSID(policy string) string {
	h := sha256.Sum256([]byte(policy))
	return hex.EncodeToString(h[:8])
}
