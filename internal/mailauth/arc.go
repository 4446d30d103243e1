package mailauth

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ARC (RFC 8617) lets an intermediary that changes how a message looks to
// SPF and DMARC (a forwarder) vouch for the authentication results it saw:
// each hop adds an ARC set — ARC-Authentication-Results (its verdicts),
// ARC-Message-Signature (a DKIM-like signature of the message as it
// forwards it) and ARC-Seal (a signature over all ARC sets so far) — with
// instance number i = previous + 1.

// ARC chain validation results (the cv= tag and the arc= method of
// Authentication-Results).
const (
	ARCNone = "none"
	ARCPass = "pass"
	ARCFail = "fail"
)

// maxARCInstances is the largest instance number RFC 8617 allows.
const maxARCInstances = 50

// arcSet is one instance's three fields.
type arcSet struct {
	aar, ams, as *field
}

// arcSets collects the ARC sets of a header by instance. ok is false when
// the structure is broken (a field without a valid i=, duplicates).
func arcSets(fs []field) (map[int]*arcSet, bool) {
	sets := map[int]*arcSet{}
	ok := true
	for i := range fs {
		f := &fs[i]
		if !f.is("ARC-Authentication-Results") && !f.is("ARC-Message-Signature") && !f.is("ARC-Seal") {
			continue
		}
		n := arcInstance(f.Value())
		if n < 1 || n > maxARCInstances {
			ok = false
			continue
		}
		set := sets[n]
		if set == nil {
			set = &arcSet{}
			sets[n] = set
		}
		var dst **field
		switch {
		case f.is("ARC-Authentication-Results"):
			dst = &set.aar
		case f.is("ARC-Message-Signature"):
			dst = &set.ams
		default:
			dst = &set.as
		}
		if *dst != nil {
			ok = false
		}
		*dst = f
	}
	return sets, ok
}

// arcInstance reads the i= tag at the start of an ARC field value.
func arcInstance(v string) int {
	for _, part := range strings.Split(v, ";") {
		k, val, found := strings.Cut(strings.TrimSpace(part), "=")
		if found && strings.TrimSpace(k) == "i" {
			n, err := strconv.Atoi(stripSpace(val))
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// verifyARC validates the ARC chain of a message (RFC 8617 section 5.2):
// the structure, the newest ARC-Message-Signature and every ARC-Seal. It
// returns the chain result and the newest instance number (0 for none).
// body reads the message body (after the header section).
func (s *Service) verifyARC(ctx context.Context, fs []field, body func() io.Reader) (string, int) {
	sets, ok := arcSets(fs)
	if len(sets) == 0 && ok {
		return ARCNone, 0
	}
	n := 0
	for i := range sets {
		n = max(n, i)
	}
	if !ok || len(sets) != n {
		return ARCFail, n
	}
	for i := 1; i <= n; i++ {
		set := sets[i]
		if set.aar == nil || set.ams == nil || set.as == nil {
			return ARCFail, n
		}
		tags, good := parseTags(set.as.Value())
		if !good {
			return ARCFail, n
		}
		want := ARCPass
		if i == 1 {
			want = ARCNone
		}
		if tags["cv"] != want {
			return ARCFail, n
		}
	}
	if err := s.verifySignature(ctx, fs, sets[n].ams, body); err != nil {
		s.log.Debug("ARC message signature does not verify", "instance", n, "err", err)
		return ARCFail, n
	}
	for i := n; i >= 1; i-- {
		if err := s.verifySeal(ctx, sets, i); err != nil {
			s.log.Debug("ARC seal does not verify", "instance", i, "err", err)
			return ARCFail, n
		}
	}
	return ARCPass, n
}

// verifySignature checks a DKIM-style message signature (an
// ARC-Message-Signature) against the header fields and the body.
func (s *Service) verifySignature(ctx context.Context, fs []field, sig *field, body func() io.Reader) error {
	tags, ok := parseTags(sig.Value())
	if !ok {
		return errors.New("malformed tags")
	}
	for _, t := range []string{"a", "b", "bh", "d", "h", "s"} {
		if tags[t] == "" {
			return fmt.Errorf("missing tag %s", t)
		}
	}
	hc, bc := "simple", "simple"
	if c := tags["c"]; c != "" {
		h, b, found := strings.Cut(c, "/")
		hc = h
		if found {
			bc = b
		}
	}
	bh, err := bodyHash(body(), bc)
	if err != nil {
		return err
	}
	if base64.StdEncoding.EncodeToString(bh) != tags["bh"] {
		return errors.New("body hash mismatch")
	}
	h := sha256.New()
	for _, raw := range pickFields(fs, strings.Split(tags["h"], ":")) {
		io.WriteString(h, canonHeader(raw, hc))
	}
	io.WriteString(h, strings.TrimSuffix(canonHeader(withoutB(sig.Raw), hc), "\r\n"))
	return s.checkSig(ctx, tags, h.Sum(nil))
}

// verifySeal checks the ARC-Seal of instance i over the sets 1..i.
func (s *Service) verifySeal(ctx context.Context, sets map[int]*arcSet, i int) error {
	tags, ok := parseTags(sets[i].as.Value())
	if !ok {
		return errors.New("malformed seal tags")
	}
	if tags["h"] != "" {
		return errors.New("ARC-Seal must not have h=")
	}
	h := sha256.New()
	for j := 1; j <= i; j++ {
		io.WriteString(h, relaxedHeader(sets[j].aar.Raw))
		io.WriteString(h, relaxedHeader(sets[j].ams.Raw))
		if j < i {
			io.WriteString(h, relaxedHeader(sets[j].as.Raw))
		}
	}
	io.WriteString(h, strings.TrimSuffix(relaxedHeader(withoutB(sets[i].as.Raw)), "\r\n"))
	return s.checkSig(ctx, tags, h.Sum(nil))
}

// checkSig verifies b= over a SHA-256 digest with the key at s=, d=.
func (s *Service) checkSig(ctx context.Context, tags map[string]string, digest []byte) error {
	sig, err := base64.StdEncoding.DecodeString(tags["b"])
	if err != nil {
		return fmt.Errorf("b=: %w", err)
	}
	pub, err := s.lookupKey(ctx, tags["d"], tags["s"])
	if err != nil {
		return err
	}
	switch tags["a"] {
	case "rsa-sha256":
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return errors.New("key is not RSA")
		}
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, digest, sig)
	case "ed25519-sha256":
		k, ok := pub.(ed25519.PublicKey)
		if !ok {
			return errors.New("key is not Ed25519")
		}
		if !ed25519.Verify(k, digest, sig) {
			return errors.New("Ed25519 signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("unsupported algorithm %q", tags["a"])
}

// lookupKey fetches and parses a DKIM key record (RFC 6376 section 3.6.1).
func (s *Service) lookupKey(ctx context.Context, domain, selector string) (crypto.PublicKey, error) {
	txts, err := s.res.LookupTXT(ctx, selector+"._domainkey."+domain)
	if err != nil {
		return nil, err
	}
	if len(txts) != 1 {
		return nil, fmt.Errorf("%d key records at %s._domainkey.%s", len(txts), selector, domain)
	}
	tags, ok := parseTags(txts[0])
	if !ok || (tags["v"] != "" && tags["v"] != "DKIM1") || tags["p"] == "" {
		return nil, errors.New("malformed or revoked key record")
	}
	b, err := base64.StdEncoding.DecodeString(tags["p"])
	if err != nil {
		return nil, fmt.Errorf("p=: %w", err)
	}
	switch tags["k"] {
	case "", "rsa":
		if k, err := x509.ParsePKIXPublicKey(b); err == nil {
			return k, nil
		}
		return x509.ParsePKCS1PublicKey(b)
	case "ed25519":
		if len(b) != ed25519.PublicKeySize {
			return nil, errors.New("bad Ed25519 key size")
		}
		return ed25519.PublicKey(b), nil
	}
	return nil, fmt.Errorf("unsupported key type %q", tags["k"])
}

// withoutB returns a signature field with the value of its b= tag removed
// (not bh=), for hashing.
func withoutB(raw []byte) []byte {
	s := string(raw)
	colon := strings.IndexByte(s, ':')
	if colon < 0 {
		return raw
	}
	head, v := s[:colon+1], s[colon+1:]
	parts := strings.Split(v, ";")
	for i, p := range parts {
		k, _, found := strings.Cut(p, "=")
		if found && strings.TrimSpace(k) == "b" {
			eq := strings.IndexByte(p, '=')
			end := ""
			if i == len(parts)-1 {
				// keep the field's line end
				trimmed := strings.TrimRight(p, "\r\n")
				end = p[len(trimmed):]
			}
			parts[i] = p[:eq+1] + end
		}
	}
	return []byte(head + strings.Join(parts, ";"))
}

// canonHeader canonicalizes a field with "relaxed" or "simple".
func canonHeader(raw []byte, c string) string {
	if c == "relaxed" {
		return relaxedHeader(raw)
	}
	s := strings.ReplaceAll(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n", "\r\n")
	if !strings.HasSuffix(s, "\r\n") {
		s += "\r\n"
	}
	return s
}

// bodyHash returns the SHA-256 of a body under "relaxed" or "simple"
// canonicalization.
func bodyHash(r io.Reader, c string) ([]byte, error) {
	h := sha256.New()
	if c == "relaxed" {
		rb := &relaxedBody{w: h}
		if _, err := io.Copy(rb, r); err != nil {
			return nil, err
		}
		if err := rb.Close(); err != nil {
			return nil, err
		}
		return h.Sum(nil), nil
	}
	sb := &simpleBody{w: h}
	if _, err := io.Copy(sb, r); err != nil {
		return nil, err
	}
	sb.Close()
	return h.Sum(nil), nil
}

// simpleBody is the "simple" body canonicalization: CRLF line ends, empty
// lines at the end removed, an empty body becomes one CRLF.
type simpleBody struct {
	w       io.Writer
	line    []byte
	empties int
	any     bool
}

// Write implements io.Writer.
func (b *simpleBody) Write(p []byte) (int, error) {
	for _, c := range p {
		switch c {
		case '\n':
			b.endLine()
		case '\r':
		default:
			b.line = append(b.line, c)
		}
	}
	return len(p), nil
}

func (b *simpleBody) endLine() {
	if len(b.line) == 0 {
		b.empties++
		return
	}
	for ; b.empties > 0; b.empties-- {
		io.WriteString(b.w, "\r\n")
	}
	b.w.Write(append(b.line, '\r', '\n'))
	b.line = b.line[:0]
	b.any = true
}

// Close flushes the last line; an empty body hashes as one CRLF.
func (b *simpleBody) Close() {
	if len(b.line) > 0 {
		b.endLine()
	}
	if !b.any {
		io.WriteString(b.w, "\r\n")
	}
}

// Seal is an ARC set to add.
type Seal struct {
	TenantID string // whose key seals
	Domain   string // the forwarding domain (d=)
	// Results is the authentication results this server found when the
	// message arrived (the resinfo part of its Authentication-Results),
	// "none" when there were none.
	Results string
	// Chain is the validation of the ARC chain the message arrived with
	// (ARCNone, ARCPass or ARCFail) and Instance its newest instance.
	Chain    string
	Instance int
}

// SealARC returns the ARC set (ARC-Seal, ARC-Message-Signature,
// ARC-Authentication-Results, in that order, each ending in CRLF) to put
// above the message read from msg, signed with the tenant's key for the
// domain (RSA when it has one, as more verifiers know it, else Ed25519).
// It returns nil, nil when the tenant has no active key for the domain, or
// when the chain the message arrived with failed (RFC 8617 section 5.1: a
// failed chain is not extended).
func (s *Service) SealARC(ctx context.Context, sl Seal, msg io.Reader) ([]byte, error) {
	if sl.Chain == ARCFail || sl.Instance >= maxARCInstances {
		return nil, nil
	}
	keys, err := s.signingKeys(ctx, sl.TenantID, sl.Domain)
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	k := keys[len(keys)-1] // RSA sorts after Ed25519
	br := bufio.NewReaderSize(msg, 64<<10)
	fs, _, err := readHeader(br)
	if err != nil {
		return nil, fmt.Errorf("ARC: read header: %w", err)
	}
	bh, err := bodyHash(br, "relaxed")
	if err != nil {
		return nil, fmt.Errorf("ARC: hash body: %w", err)
	}
	i := sl.Instance + 1
	cv := ARCNone
	if i > 1 {
		cv = ARCPass
	}
	alg := "rsa-sha256"
	if k.Algorithm == Ed25519 {
		alg = "ed25519-sha256"
	}
	t := strconv.FormatInt(s.now().Unix(), 10)
	results := strings.TrimSpace(sl.Results)
	if results == "" {
		results = "none"
	}
	aar := "ARC-Authentication-Results: i=" + strconv.Itoa(i) + "; " + s.hostname + ";\r\n\t" + results + "\r\n"

	names := amsHeaderNames(fs)
	amsTags := [][2]string{{"i", strconv.Itoa(i)}, {"a", alg}, {"c", "relaxed/relaxed"}, {"d", sl.Domain}, {"s", k.Selector},
		{"t", t}, {"h", strings.Join(names, ":")}, {"bh", base64.StdEncoding.EncodeToString(bh)}}
	h := sha256.New()
	for _, raw := range pickFields(fs, names) {
		io.WriteString(h, relaxedHeader(raw))
	}
	unsigned := foldTags("ARC-Message-Signature", append(amsTags, [2]string{"b", ""}))
	io.WriteString(h, strings.TrimSuffix(relaxedHeader([]byte(unsigned)), "\r\n"))
	sig, err := sign(k.signer, h.Sum(nil))
	if err != nil {
		return nil, err
	}
	ams := foldTags("ARC-Message-Signature", append(amsTags, [2]string{"b", sig}))

	// The seal covers every earlier set (they are verified, so present)
	// and this one.
	sets, _ := arcSets(fs)
	h = sha256.New()
	for j := 1; j < i; j++ {
		io.WriteString(h, relaxedHeader(sets[j].aar.Raw))
		io.WriteString(h, relaxedHeader(sets[j].ams.Raw))
		io.WriteString(h, relaxedHeader(sets[j].as.Raw))
	}
	io.WriteString(h, relaxedHeader([]byte(aar)))
	io.WriteString(h, relaxedHeader([]byte(ams)))
	asTags := [][2]string{{"i", strconv.Itoa(i)}, {"a", alg}, {"t", t}, {"cv", cv}, {"d", sl.Domain}, {"s", k.Selector}}
	unsigned = foldTags("ARC-Seal", append(asTags, [2]string{"b", ""}))
	io.WriteString(h, strings.TrimSuffix(relaxedHeader([]byte(unsigned)), "\r\n"))
	sig, err = sign(k.signer, h.Sum(nil))
	if err != nil {
		return nil, err
	}
	as := foldTags("ARC-Seal", append(asTags, [2]string{"b", sig}))
	return []byte(as + ams + aar), nil
}

// amsHeaderNames lists the fields an ARC-Message-Signature covers: the
// SignedHeaders the message has (From oversigned), then every
// DKIM-Signature, so the seal binds the original signatures too. ARC
// fields and Authentication-Results are never listed (RFC 8617 section
// 4.1.2).
func amsHeaderNames(fs []field) []string {
	count := map[string]int{}
	for _, f := range fs {
		count[strings.ToLower(f.Name)]++
	}
	var names []string
	seen := map[string]bool{}
	for _, n := range SignedHeaders {
		l := strings.ToLower(n)
		if l == "from" {
			names = append(names, l)
			continue
		}
		if count[l] > 0 && !seen[l] {
			seen[l] = true
			for range count[l] {
				names = append(names, l)
			}
		}
	}
	for range count["dkim-signature"] {
		names = append(names, "dkim-signature")
	}
	return names
}

// sign signs a SHA-256 digest: PKCS #1 v1.5 for RSA, Ed25519 over the
// digest (RFC 8463).
func sign(k crypto.Signer, digest []byte) (string, error) {
	var opts crypto.SignerOpts = crypto.SHA256
	if _, ok := k.Public().(ed25519.PublicKey); ok {
		opts = crypto.Hash(0)
	}
	sig, err := k.Sign(rand.Reader, digest, opts)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}
