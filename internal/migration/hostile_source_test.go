package migration_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/replication"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// hostileSource is an attacker-controlled replication source: a reverse
// proxy in front of a real tenantferry server (the attacker's own), which
// rewrites the SHA-256 the item listing claims and answers content requests
// itself, recording which items the target asked for. Items it has no
// bytes for are answered "gone" (size -1), which the target accepts.
type hostileSource struct {
	ln    net.Listener
	URL   string
	claim map[int64]string // source item id → claimed SHA-256

	mu        sync.Mutex
	listed    []int64 // item ids listed, in order
	requested []int64 // item ids whose content the target requested
}

// newHostileSource listens on loopback; start it with serve once the real
// server behind it runs.
func newHostileSource(t *testing.T) *hostileSource {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hostileSource{ln: ln, URL: "http://" + ln.Addr().String(), claim: map[int64]string{}}
	t.Cleanup(func() { ln.Close() })
	return h
}

func (h *hostileSource) serve(backend string) {
	u, _ := url.Parse(backend)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		if !strings.HasSuffix(resp.Request.URL.Path, "/items") || resp.StatusCode != http.StatusOK {
			return nil
		}
		var r replication.ItemsReply
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return err
		}
		resp.Body.Close()
		h.mu.Lock()
		for i := range r.Items {
			h.listed = append(h.listed, r.Items[i].Id)
			if c, ok := h.claim[r.Items[i].Id]; ok {
				r.Items[i].Sha256 = c
			}
		}
		h.mu.Unlock()
		b, _ := json.Marshal(r)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Del("Content-Length")
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/content") {
			rp.ServeHTTP(w, r)
			return
		}
		var req replication.ContentRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.requested = append(h.requested, req.Ids...)
		h.mu.Unlock()
		w.Header().Set("Content-Type", replication.ContentType)
		for _, id := range req.Ids {
			var hdr [48]byte
			binary.BigEndian.PutUint64(hdr[0:8], uint64(id))
			binary.BigEndian.PutUint64(hdr[8:16], uint64(0xffffffffffffffff)) // -1: gone
			w.Write(hdr[:])
		}
	})
	go http.Serve(h.ln, mux)
}

func (h *hostileSource) ids() (listed, requested []int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	listed, requested = slices.Clone(h.listed), slices.Clone(h.requested)
	slices.Sort(listed)
	slices.Sort(requested)
	return slices.Compact(listed), slices.Compact(requested)
}

func shaHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestHostileSourceCannotReadOtherTenants attacks content deduplication
// (issue 7, hole 1). The attacker is tenant fabrikam on a shared server H,
// which also hosts tenant victim. The attacker runs its own source server E
// behind a hostile proxy and moves a mailbox from it into fabrikam, with
// the item listing claiming SHA-256 values: the hash of a victim's message,
// a hash nobody stores, and the hash of a message fabrikam itself holds.
//
// The victim's bytes must never land in the attacker's mailbox, and the
// target's fetch pattern must not depend on what other tenants store (no
// existence oracle): every item is fetched except the one whose content
// the attacker's own tenant already references, which is still reused
// (the same-tenant dedup win stays).
func TestHostileSourceCannotReadOtherTenants(t *testing.T) {
	ctx := context.Background()
	proxy := newHostileSource(t)
	e := scenario.StartWith(t, scenario.Options{SMTP: "off"}, func(c *scenario.Config) { c.PublicURL = proxy.URL })
	proxy.serve("http://" + e.HTTPAddr())
	h := scenario.Start(t, scenario.Options{SMTP: "off"})
	e.Tenant(srcName)
	h.Tenant(tgtName)
	h.Tenant("victim")
	r := &rig{t: t, ctx: ctx, s: e, tgt: h, tr: scenario.SetupTrust(t, e, srcName, h, tgtName)}

	// The victim's secret, and a message the attacker's tenant holds.
	secret := scenario.Message("ceo@victim.example", "board@victim.example", "merger terms", "confidential: we pay 42")
	vic := h.Mailbox("victim", "ceo", "pw-ceo", false)
	scenario.Fill(t, h.Store, h.Content("victim", vic.ExchangeGuid).ID, []scenario.Item{{Folder: "Inbox", Data: secret, Date: time.Now()}})
	own := scenario.Message("x@fabrikam.example", "y@fabrikam.example", "our own", "fabrikam's own bytes")
	mine := h.Mailbox(tgtName, "keeper", "pw-keeper", false)
	scenario.Fill(t, h.Store, h.Content(tgtName, mine.ExchangeGuid).ID, []scenario.Item{{Folder: "Inbox", Data: own, Date: time.Now()}})

	src := r.source("bait", 4, false, true)
	srcMB := e.Content(srcName, src.ExchangeGuid)
	snap := scenario.Take(t, e.Store, srcMB.ID)
	if snap.Count() != 4 {
		t.Fatalf("source has %d items", snap.Count())
	}
	changes, _, err := e.Store.ItemChanges(ctx, srcMB.ID, mailstore.Cursor{}, 0, 10)
	if err != nil || len(changes) != 4 {
		t.Fatalf("source items: %d, %v", len(changes), err)
	}
	ids := make([]int64, 4)
	for i, c := range changes {
		ids[i] = c.ItemID
	}
	unknown := strings.Repeat("ab", 32) // stored by nobody
	proxy.claim[ids[0]] = shaHex(secret)
	proxy.claim[ids[1]] = unknown
	proxy.claim[ids[2]] = shaHex(own)
	// ids[3] keeps its true hash, which H does not store either.

	r.stamp(src, nil)
	addr := r.addr("bait")
	r.batch("bait", r.tr.Endpoint, addr)
	u := r.waitUser("bait", addr, migration.StateSynced, migration.StateFailed)

	got := h.Content(tgtName, src.ExchangeGuid)
	for _, xs := range scenario.Take(t, h.Store, got.ID) {
		for _, x := range xs {
			if strings.HasPrefix(x, shaHex(secret)) {
				t.Fatalf("the victim's message was copied into the attacker's mailbox (user %s %s, score %s)", u.Status, u.StatusDetail, u.DataConsistencyScore)
			}
		}
	}
	listed, requested := proxy.ids()
	if !slices.Equal(listed, ids) {
		t.Fatalf("listed %v, want %v", listed, ids)
	}
	// The fetch pattern: everything but the content fabrikam already holds.
	if want := []int64{ids[0], ids[1], ids[3]}; !slices.Equal(requested, want) {
		t.Fatalf("the target fetched %v, want %v (all but the item whose content its own tenant holds): the pattern reveals other tenants' content", requested, want)
	}
	if u.Status != migration.StateSynced {
		t.Fatalf("user %s: %+v", u.Status, u.Error)
	}
	// The reused item is the attacker's own message.
	var all []string
	for _, xs := range scenario.Take(t, h.Store, got.ID) {
		all = append(all, xs...)
	}
	if len(all) != 1 || !strings.HasPrefix(all[0], shaHex(own)+" ") {
		t.Fatalf("target content %v, want only fabrikam's own message %s", all, shaHex(own))
	}
}
