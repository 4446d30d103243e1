package dav_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// rig is a running server with two tenants and a mailbox in each.
type rig struct {
	srv         *scenario.Server
	base        string // http://127.0.0.1:port
	alice, bob  string // primary addresses
	alicePw     string
	bobPw       string
	aliceTenant string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	s := scenario.Start(t, scenario.Options{})
	s.Tenant("contoso")
	s.Tenant("fabrikam")
	a := s.Mailbox("contoso", "alice", "alice-secret-1", false)
	b := s.Mailbox("fabrikam", "bob", "bob-secret-1", false)
	return &rig{srv: s, base: "http://" + s.HTTPAddr(), alice: a.PrimarySmtpAddress, bob: b.PrimarySmtpAddress,
		alicePw: "alice-secret-1", bobPw: "bob-secret-1", aliceTenant: a.TenantID}
}

// reply is an HTTP response read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r *reply) String() string { return http.StatusText(r.status) + ": " + string(r.body) }

// do sends a request as user (password pw) to an escaped path.
func (g *rig) do(t *testing.T, user, pw, method, path string, hdr map[string]string, body string) *reply {
	t.Helper()
	req, err := http.NewRequest(method, g.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	// Keep the path exactly as written (no cleaning of dot segments).
	req.URL.Opaque = path
	if user != "" {
		req.SetBasicAuth(user, pw)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// as returns a request function bound to alice.
func (g *rig) asAlice(t *testing.T) func(method, path string, hdr map[string]string, body string) *reply {
	return func(method, path string, hdr map[string]string, body string) *reply {
		t.Helper()
		return g.do(t, g.alice, g.alicePw, method, path, hdr, body)
	}
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// multistatus is a parsed 207 body.
type multistatus struct {
	Responses []struct {
		Href      string `xml:"href"`
		Status    string `xml:"status"`
		Propstats []struct {
			Status string `xml:"status"`
			Prop   struct {
				Inner []byte `xml:",innerxml"`
				Props []struct {
					XMLName xml.Name
					Text    string `xml:",chardata"`
					Inner   []byte `xml:",innerxml"`
				} `xml:",any"`
			} `xml:"prop"`
		} `xml:"propstat"`
	} `xml:"response"`
	SyncToken string `xml:"sync-token"`
}

func parseMS(t *testing.T, r *reply) *multistatus {
	t.Helper()
	if r.status != http.StatusMultiStatus {
		t.Fatalf("want 207, got %s", r)
	}
	var ms multistatus
	if err := xml.Unmarshal(r.body, &ms); err != nil {
		t.Fatalf("parse multistatus: %v\n%s", err, r.body)
	}
	return &ms
}

// prop returns the text of a property of the response with href (200
// propstat), and whether it was there.
func (ms *multistatus) prop(href, local string) (string, bool) {
	for _, r := range ms.Responses {
		if r.Href != href {
			continue
		}
		for _, ps := range r.Propstats {
			if !strings.Contains(ps.Status, " 200 ") {
				continue
			}
			for _, p := range ps.Prop.Props {
				if p.XMLName.Local == local {
					return p.Text, true
				}
			}
		}
	}
	return "", false
}

// hrefs lists the response hrefs.
func (ms *multistatus) hrefs() []string {
	var out []string
	for _, r := range ms.Responses {
		out = append(out, r.Href)
	}
	return out
}

func wantStatus(t *testing.T, r *reply, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("want %d, got %s", status, r)
	}
	if code != "" && r.header.Get("X-Error-Code") != code {
		t.Fatalf("want error code %s, got %q: %s", code, r.header.Get("X-Error-Code"), r.body)
	}
}

const propfindAll = `<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cr="urn:ietf:params:xml:ns:carddav" xmlns:cs="http://calendarserver.org/ns/">
<d:prop><d:resourcetype/><d:displayname/><d:getetag/><d:current-user-principal/><c:calendar-home-set/><cr:addressbook-home-set/><d:sync-token/><cs:getctag/><c:supported-calendar-component-set/></d:prop></d:propfind>`
