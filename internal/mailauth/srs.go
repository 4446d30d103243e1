package mailauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// The Sender Rewriting Scheme (SRS, after Shevek's paper and libsrs2) makes
// a forwarded message's envelope sender an address of the forwarding domain,
// so that SPF at the next hop checks the forwarder's SPF record, and a
// bounce comes back to the forwarder, which alone can undo the rewrite:
//
//	SRS0=HHHHHHHH=TT=orig.example=alice@forwarder.example
//	SRS1=HHHHHHHH=first.example==HHHHHHHH=TT=orig.example=alice@second.example
//
// HHHHHHHH is a keyed hash (HMAC-SHA256 with a key derived from the server
// key, 40 bits in base32) over the rest, TT the day number modulo 1024 in
// two base32 letters. An SRS0 address is accepted back for SRSMaxAge; an
// SRS1 address (a second forwarder's rewrite of a first forwarder's SRS0)
// is routed back to the first forwarder, which checks its own hash. Both
// are case-insensitive, because some MTAs change the case of local parts.

// SRSMaxAge is how long a rewritten sender stays valid for bounces.
const SRSMaxAge = 21 * 24 * time.Hour

// ErrSRSInvalid is returned for an address that looks like an SRS address
// of this server but whose hash or timestamp does not verify.
var ErrSRSInvalid = errs.Sentinel(errs.Invalid, "SrsAddressInvalid")

// srsAlphabet is lower-case base32 (RFC 4648 letters), case-insensitive on
// the way back.
const srsAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

var srsEncoding = base32.NewEncoding(srsAlphabet).WithPadding(base32.NoPadding)

// SRS rewrites and reverses envelope senders with one key. It is safe for
// concurrent use.
type SRS struct {
	key []byte
	now func() time.Time
}

// NewSRS returns an SRS with a key derived from the server key (see
// identity.LoadOrCreateServerKey), so every node sharing the server key
// verifies the others' addresses.
func NewSRS(serverKey []byte) *SRS {
	m := hmac.New(sha256.New, serverKey)
	m.Write([]byte("tenantferry srs v1"))
	return &SRS{key: m.Sum(nil), now: time.Now}
}

// IsSRS reports whether an address's local part is in SRS form.
func IsSRS(addr string) bool {
	l := strings.ToLower(addr)
	return strings.HasPrefix(l, "srs0=") || strings.HasPrefix(l, "srs1=")
}

// hash returns the 8-letter keyed hash of the parts (lower-cased).
func (s *SRS) hash(parts ...string) string {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(strings.ToLower(p)))
		m.Write([]byte{0})
	}
	return srsEncoding.EncodeToString(m.Sum(nil)[:5])
}

// stamp returns the current day number modulo 1024 in two letters.
func (s *SRS) stamp() string {
	d := s.now().Unix() / 86400 % 1024
	return string([]byte{srsAlphabet[d>>5], srsAlphabet[d&31]})
}

// stampAge returns how many days old a two-letter stamp is, or -1 when it
// is not one.
func (s *SRS) stampAge(tt string) int {
	tt = strings.ToLower(tt)
	if len(tt) != 2 {
		return -1
	}
	hi, lo := strings.IndexByte(srsAlphabet, tt[0]), strings.IndexByte(srsAlphabet, tt[1])
	if hi < 0 || lo < 0 {
		return -1
	}
	then := int64(hi<<5 | lo)
	today := s.now().Unix() / 86400 % 1024
	return int((today - then + 1024) % 1024)
}

// Forward rewrites the envelope sender from for a message forwarded by
// domain. The null sender stays null; a sender in domain itself stays as it
// is; an SRS0 or SRS1 address of another forwarder becomes SRS1; anything
// else becomes SRS0.
func (s *SRS) Forward(from, domain string) string {
	local, dom, ok := splitAddr(from)
	if from == "" || !ok || strings.EqualFold(dom, domain) {
		return from
	}
	ll := strings.ToLower(local)
	switch {
	case strings.HasPrefix(ll, "srs0="):
		// SRS0=HHH=TT=orig=local@dom → SRS1=HASH=dom==HHH=TT=orig=local@domain
		rest := local[len("srs0="):]
		return "SRS1=" + s.hash(dom, rest) + "=" + dom + "==" + rest + "@" + domain
	case strings.HasPrefix(ll, "srs1="):
		// SRS1=HHH=first==rest@dom → SRS1=HASH=first==rest@domain
		first, rest, found := strings.Cut(local[len("srs1="):], "==")
		if found {
			if _, f, ok := strings.Cut(first, "="); ok {
				return "SRS1=" + s.hash(f, rest) + "=" + f + "==" + rest + "@" + domain
			}
		}
	}
	tt := s.stamp()
	return "SRS0=" + s.hash(tt, dom, local) + "=" + tt + "=" + dom + "=" + local + "@" + domain
}

// Reverse undoes Forward for an SRS address that arrived at this server: an
// SRS0 address yields the original sender, an SRS1 address the first
// forwarder's SRS0 address. It returns ErrSRSInvalid when the hash does
// not verify or an SRS0 stamp is older than SRSMaxAge, and ok=false when
// addr is not in SRS form at all.
func (s *SRS) Reverse(addr string) (string, bool, error) {
	local, _, ok := splitAddr(addr)
	if !ok || !IsSRS(addr) {
		return "", false, nil
	}
	bad := func(why string) error {
		return ErrSRSInvalid.Newf("%s is not a valid bounce address of this server: %s", addr, why).WithObject(addr).
			WithHint("bounces must go to the SRS address this server put in the envelope sender, within %d days", int(SRSMaxAge.Hours()/24))
	}
	body := local[len("srs0="):]
	if strings.HasPrefix(strings.ToLower(local), "srs1=") {
		h, rest, found := strings.Cut(body, "=")
		first, inner, found2 := strings.Cut(rest, "==")
		if !found || !found2 || first == "" || inner == "" {
			return "", true, bad("malformed SRS1 address")
		}
		if !s.hashOK(h, first, inner) {
			return "", true, bad("hash mismatch")
		}
		return "SRS0=" + inner + "@" + first, true, nil
	}
	parts := strings.SplitN(body, "=", 4)
	if len(parts) != 4 || parts[2] == "" || parts[3] == "" {
		return "", true, bad("malformed SRS0 address")
	}
	h, tt, dom, orig := parts[0], parts[1], parts[2], parts[3]
	if !s.hashOK(h, tt, dom, orig) {
		return "", true, bad("hash mismatch")
	}
	if age := s.stampAge(tt); age < 0 || time.Duration(age)*24*time.Hour > SRSMaxAge {
		return "", true, bad("expired")
	}
	return orig + "@" + dom, true, nil
}

// hashOK compares a received hash with the expected one, case-insensitively
// and in constant time.
func (s *SRS) hashOK(got string, parts ...string) bool {
	want := s.hash(parts...)
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(got)), []byte(want)) == 1
}

// splitAddr splits an address at its last '@' into the local part and the
// lower-cased domain.
func splitAddr(addr string) (string, string, bool) {
	i := strings.LastIndexByte(addr, '@')
	if i <= 0 || i == len(addr)-1 {
		return "", "", false
	}
	return addr[:i], strings.ToLower(strings.TrimSuffix(addr[i+1:], ".")), true
}
