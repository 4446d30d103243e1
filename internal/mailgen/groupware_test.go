package mailgen_test

import (
	"bytes"
	"testing"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"

	"github.com/tenantferry/tenantferry/internal/mailgen"
)

// TestGroupwareValidAndDeterministic: every generated object parses as
// iCalendar or vCard, and the same options give the same bytes.
func TestGroupwareValidAndDeterministic(t *testing.T) {
	o := mailgen.GroupwareOptions{Seed: 3, Owner: "user@contoso.example", Events: 20, Tasks: 5, Contacts: 6}
	a, b := mailgen.Groupware(o), mailgen.Groupware(o)
	if len(a) != 31 {
		t.Fatalf("%d objects", len(a))
	}
	for i, g := range a {
		if !bytes.Equal(g.Data, b[i].Data) || g.Name != b[i].Name {
			t.Fatalf("object %d differs between runs", i)
		}
		var err error
		if g.Collection == "Contacts" {
			_, err = vcard.NewDecoder(bytes.NewReader(g.Data)).Decode()
		} else {
			_, err = ical.NewDecoder(bytes.NewReader(g.Data)).Decode()
		}
		if err != nil {
			t.Fatalf("%s/%s: %v\n%s", g.Collection, g.Name, err, g.Data)
		}
	}
}
