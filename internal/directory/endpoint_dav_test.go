package directory_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// TestEndpointDAVURLs: an IMAP endpoint keeps its CalDAV/CardDAV URLs,
// `endpoint set` changes and removes them ("none"); a URL that is not
// http(s) and DAV URLs on a native endpoint are refused with InvalidDAVURL
// and write nothing.
func TestEndpointDAVURLs(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := directory.New(d, "tenantferry.test", make([]byte, 32))
		ten, err := x.CreateTenant(ctx, "fabrikam")
		if err != nil {
			t.Fatal(err)
		}
		invalid := errs.Sentinel(errs.Invalid, "InvalidDAVURL")
		for name, sp := range map[string]directory.EndpointSpec{
			"ftp":    {Name: "bad1", Type: directory.EndpointIMAP, RemoteServer: "imap://mail.legacy.example", CalDAVURL: "ftp://dav.legacy.example/"},
			"native": {Name: "bad2", RemoteServer: "https://src.example", RemoteTenant: "contoso.tenantferry.test", ApplicationId: uuid.NewString(), Secret: "s", CardDAVURL: "https://dav.example/"},
			"query":  {Name: "bad3", Type: directory.EndpointIMAP, RemoteServer: "imap://mail.legacy.example", CardDAVURL: "https://dav.example/?x=1"},
		} {
			if _, err := x.CreateEndpoint(ctx, ten.ID, sp); !errors.Is(err, invalid) {
				t.Errorf("%s: want InvalidDAVURL, got %v", name, err)
			}
			if _, err := x.GetEndpoint(ctx, ten.ID, sp.Name); err == nil {
				t.Errorf("%s: a refused endpoint was written", name)
			}
		}
		e, err := x.CreateEndpoint(ctx, ten.ID, directory.EndpointSpec{Name: "legacy", Type: directory.EndpointIMAP, RemoteServer: "imap://mail.legacy.example",
			CalDAVURL: "https://dav.legacy.example/", CardDAVURL: "https://dav.legacy.example/card/"})
		if err != nil || e.CalDAVURL != "https://dav.legacy.example" || e.CardDAVURL != "https://dav.legacy.example/card" {
			t.Fatalf("create: %+v %v", e, err)
		}
		u, err := x.UpdateEndpoint(ctx, ten.ID, "legacy", directory.EndpointUpdate{CalDAVURL: "none", CardDAVURL: "http://127.0.0.1:5232/"})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := x.GetEndpoint(ctx, ten.ID, "legacy")
		if u.CalDAVURL != "" || got.CalDAVURL != "" || got.CardDAVURL != "http://127.0.0.1:5232" {
			t.Fatalf("after set: %+v", got)
		}
	})
}
