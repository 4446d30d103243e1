package dav

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestPlainHTTPRule: Basic credentials over plain HTTP are refused on a
// non-loopback connection unless --allow-plaintext; loopback is fine.
func TestPlainHTTPRule(t *testing.T) {
	for _, c := range []struct {
		local    string
		allowAll bool
		refused  bool
	}{
		{"192.0.2.10:8080", false, true},
		{"192.0.2.10:8080", true, false},
		{"127.0.0.1:8080", false, false},
		{"[::1]:8080", false, false},
	} {
		h := &Handler{AllowPlain: LoopbackOr(c.allowAll)}
		req := httptest.NewRequest("PROPFIND", "/dav/", nil)
		addr, _ := net.ResolveTCPAddr("tcp", c.local)
		req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, addr))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req) // no credentials: past the TLS check it asks for them
		refused := w.Code == http.StatusForbidden && w.Header().Get("X-Error-Code") == "TLSRequired"
		asked := w.Code == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") != ""
		if refused != c.refused || refused == asked {
			t.Errorf("%s allow=%v: status %d %s, refused=%v", c.local, c.allowAll, w.Code, w.Header().Get("X-Error-Code"), refused)
		}
	}
}
