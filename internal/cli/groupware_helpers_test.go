package cli_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/mailgen"
)

// davDo sends one CalDAV/CardDAV request as user and returns status and body.
func davDo(t *testing.T, base, user, pw, method, path string, depth string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, pw)
	if depth != "" {
		req.Header.Set("Depth", depth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// putGroupware stores generated objects in a mailbox's default collections
// over CalDAV/CardDAV.
func putGroupware(t *testing.T, base, user, pw string, objs []mailgen.GroupwareObject) {
	t.Helper()
	for _, o := range objs {
		tree := "calendars"
		if o.Collection == "Contacts" {
			tree = "addressbooks"
		}
		p := "/dav/" + tree + "/" + url.PathEscape(user) + "/" + o.Collection + "/" + o.Name
		if st, b := davDo(t, base, user, pw, "PUT", p, "", o.Data); st != http.StatusCreated {
			t.Fatalf("PUT %s: %d %s", p, st, b)
		}
	}
}

// davSnapshot lists every object of every calendar, task list and address
// book of a mailbox over CalDAV/CardDAV as sorted "collection/name sha256"
// lines, one per object (a duplicate would show twice).
func davSnapshot(t *testing.T, base, user, pw string) []string {
	t.Helper()
	var out []string
	for _, tree := range []string{"calendars", "addressbooks"} {
		home := "/dav/" + tree + "/" + url.PathEscape(user) + "/"
		for _, coll := range davMembers(t, base, user, pw, home) {
			for _, obj := range davMembers(t, base, user, pw, coll) {
				st, b := davDo(t, base, user, pw, "GET", obj, "", nil)
				if st != http.StatusOK {
					t.Fatalf("GET %s: %d", obj, st)
				}
				sum := sha256.Sum256(b)
				segs := strings.Split(strings.TrimSuffix(obj, "/"), "/")
				name := strings.Join(segs[len(segs)-2:], "/") // collection/object
				out = append(out, tree+"/"+name+" "+hex.EncodeToString(sum[:]))
			}
		}
	}
	sort.Strings(out)
	return out
}

// davMembers returns the hrefs below a collection (PROPFIND Depth 1).
func davMembers(t *testing.T, base, user, pw, coll string) []string {
	t.Helper()
	st, b := davDo(t, base, user, pw, "PROPFIND", coll, "1", []byte(`<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>`))
	if st != http.StatusMultiStatus {
		t.Fatalf("PROPFIND %s: %d %s", coll, st, b)
	}
	var ms struct {
		Responses []struct {
			Href string `xml:"DAV: href"`
		} `xml:"DAV: response"`
	}
	if err := xml.Unmarshal(b, &ms); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range ms.Responses {
		if strings.TrimSuffix(r.Href, "/") != strings.TrimSuffix(coll, "/") {
			out = append(out, r.Href)
		}
	}
	return out
}

// sameGroupwareSnap compares two davSnapshot results.
func sameGroupwareSnap(t *testing.T, what string, want, got []string) {
	t.Helper()
	if strings.Join(want, "\n") != strings.Join(got, "\n") {
		t.Fatalf("%s: groupware differs: source has %d objects, target %d", what, len(want), len(got))
	}
}
