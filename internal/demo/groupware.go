package demo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/groupware"
	"github.com/tenantferry/tenantferry/internal/mailgen"
)

// GroupwareResult is what the demo verified of the moved calendars, task
// lists and address books.
type GroupwareResult struct {
	Events, Tasks, Contacts int // objects generated on the source
	// Matching counts the target objects whose bytes equal the source's
	// (SHA-256), Total the objects generated.
	Matching, Total int
}

// groupwareSize scales the generated groupware with --items.
func (d *run) groupwareSize() mailgen.GroupwareOptions {
	return mailgen.GroupwareOptions{Events: max(1, d.o.Items/10), Tasks: max(1, d.o.Items/30), Contacts: max(1, d.o.Items/20)}
}

// fillGroupware stores generated events, tasks and contacts in a source
// mailbox's default collections through the groupware core (so every
// object is validated as a CalDAV/CardDAV PUT would be) and records their
// hashes by "collection/name".
func (d *run) fillGroupware(ctx context.Context, u *user, seed int64) error {
	o := d.groupwareSize()
	o.Seed, o.Owner = seed, u.src.PrimarySmtpAddress
	gw := d.src.Groupware
	acc, err := gw.OwnerAccount(ctx, u.src)
	if err != nil {
		return err
	}
	u.gw = map[string]string{}
	for _, obj := range mailgen.Groupware(o) {
		kind := groupware.KindCalendar
		if obj.Collection == "Contacts" {
			kind = groupware.KindAddressBook
		}
		c, err := gw.Collection(ctx, acc, kind, obj.Collection)
		if err != nil {
			return err
		}
		if _, _, err := gw.PutObject(ctx, acc, c, obj.Name, obj.Data, groupware.Conditions{}); err != nil {
			return fmt.Errorf("%s/%s: %w", obj.Collection, obj.Name, err)
		}
		sum := sha256.Sum256(obj.Data)
		u.gw[obj.Collection+"/"+obj.Name] = hex.EncodeToString(sum[:])
	}
	u.events, u.tasks, u.contacts = o.Events, o.Tasks, o.Contacts
	return nil
}

// checkGroupware compares the moved users' calendars, task lists and
// address books on the target with what was generated on the source.
func (d *run) checkGroupware(ctx context.Context) (*GroupwareResult, error) {
	t := d.tgt
	res := &GroupwareResult{}
	for _, u := range d.users {
		if !u.moved {
			continue
		}
		res.Events, res.Tasks, res.Contacts, res.Total = res.Events+u.events, res.Tasks+u.tasks, res.Contacts+u.contacts, res.Total+len(u.gw)
		r, err := t.Dir.GetRecipient(ctx, t.tenantID, u.alias)
		if err != nil {
			return nil, err
		}
		got, err := objectHashes(ctx, t.Groupware, r)
		if err != nil {
			return nil, err
		}
		for k, h := range u.gw {
			if got[k] == h {
				res.Matching++
			}
		}
	}
	return res, nil
}

// objectHashes reads every object of a mailbox's calendars and address
// books: "collection/name" → SHA-256 as stored.
func objectHashes(ctx context.Context, gw *groupware.Service, r *directory.Recipient) (map[string]string, error) {
	acc, err := gw.OwnerAccount(ctx, r)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, kind := range []groupware.Kind{groupware.KindCalendar, groupware.KindAddressBook} {
		cols, err := gw.Collections(ctx, acc, kind)
		if err != nil {
			return nil, err
		}
		for i := range cols {
			objs, err := gw.ListObjects(ctx, acc, &cols[i])
			if err != nil {
				return nil, err
			}
			for _, o := range objs {
				out[cols[i].Name+"/"+o.Name] = o.SHA256
			}
		}
	}
	return out, nil
}
