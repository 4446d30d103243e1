package groupware

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// Object is a calendar or contact object of a collection.
type Object struct {
	Name    string    // resource name (last URL segment)
	UID     string    // the object's UID
	ETag    string    // entity tag, without quotes
	Size    int64     // bytes
	SHA256  string    // hex SHA-256 of the bytes
	ModTime time.Time // when this version was stored
	ItemID  int64     // the store item
}

// ETag derives an object's entity tag from its item id and MODSEQ: a new
// version of an object is a new item, so the tag changes with every write.
func ETag(it *mailstore.Item) string {
	return strconv.FormatInt(it.ModSeq, 10) + "-" + strconv.FormatInt(it.ID, 10)
}

func objectOf(it *mailstore.Item) Object {
	return Object{Name: it.Name, UID: it.ObjectUID, ETag: ETag(it), Size: it.Size, SHA256: it.SHA256, ModTime: it.InternalDate, ItemID: it.ID}
}

// Conditions are a write's preconditions (HTTP If-Match, If-None-Match),
// ETags without quotes, "*" for any.
type Conditions struct {
	IfMatch     []string
	IfNoneMatch []string
}

// check evaluates the conditions against the current object (nil: none).
func (c Conditions) check(name string, cur *mailstore.Item) error {
	fail := func(why string) error {
		return ErrPreconditionFailed.Newf("object %s %s", name, why).WithObject(name).
			WithHint("fetch the object again and retry with its current ETag")
	}
	if len(c.IfMatch) > 0 {
		if cur == nil {
			return fail("does not exist")
		}
		if !slices.Contains(c.IfMatch, "*") && !slices.Contains(c.IfMatch, ETag(cur)) {
			return fail("was changed (its ETag is \"" + ETag(cur) + "\")")
		}
	}
	if len(c.IfNoneMatch) > 0 && cur != nil {
		if slices.Contains(c.IfNoneMatch, "*") || slices.Contains(c.IfNoneMatch, ETag(cur)) {
			return fail("already exists")
		}
	}
	return nil
}

// PutObject validates data and stores it as the object name of collection
// c, replacing the object of that name if there is one; it reports whether
// the object was created. Refusals (invalid data, a UID another object has,
// a failed precondition) write nothing.
func (s *Service) PutObject(ctx context.Context, a *Account, c *Collection, name string, data []byte, cond Conditions) (*Object, bool, error) {
	p, err := s.validate(c, name, data)
	if err != nil {
		return nil, false, err
	}
	it, old, err := s.Store.PutNamed(ctx, a.Mailbox.ID, mailstore.NamedPut{
		FolderID: c.Folder.ID, Name: name, ObjectUID: p.uid, Content: bytes.NewReader(data), Subject: p.summary,
		Check: func(cur *mailstore.Item) error { return cond.check(name, cur) },
	})
	if err != nil {
		return nil, false, err
	}
	o := objectOf(it)
	return &o, old == nil, nil
}

// GetObject returns an object's metadata.
func (s *Service) GetObject(ctx context.Context, a *Account, c *Collection, name string) (*Object, error) {
	it, err := s.Store.ItemByName(ctx, a.Mailbox.ID, c.Folder.ID, name)
	if err != nil {
		return nil, objectErr(err, c, name)
	}
	o := objectOf(it)
	return &o, nil
}

func objectErr(err error, c *Collection, name string) error {
	if isNotFound(err) {
		return ErrObjectNotFound.Newf("%s %q has no object %q", c.Kind, c.Name, name).WithObject(name).
			WithHint("list the collection to see its objects")
	}
	return err
}

// ReadObject returns an object's bytes, exactly as stored.
func (s *Service) ReadObject(ctx context.Context, a *Account, o *Object) ([]byte, error) {
	b, err := s.Store.OpenItem(ctx, a.Mailbox.ID, o.ItemID)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	data, err := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
	if err != nil {
		return nil, errs.Internalf(err, "read object %s", o.Name)
	}
	return data, nil
}

// ListObjects returns the objects of a collection, by name.
func (s *Service) ListObjects(ctx context.Context, a *Account, c *Collection) ([]Object, error) {
	items, err := s.Store.NamedItems(ctx, a.Mailbox.ID, c.Folder.ID)
	if err != nil {
		return nil, err
	}
	out := make([]Object, len(items))
	for i := range items {
		out[i] = objectOf(&items[i])
	}
	return out, nil
}

// DeleteObject deletes an object (a tombstone records its name).
func (s *Service) DeleteObject(ctx context.Context, a *Account, c *Collection, name string, cond Conditions) error {
	err := s.Store.DeleteNamed(ctx, a.Mailbox.ID, c.Folder.ID, name, func(cur *mailstore.Item) error { return cond.check(name, cur) })
	if err != nil {
		return objectErr(err, c, name)
	}
	return nil
}

// Changes is the answer to a sync-collection request.
type Changes struct {
	Changed []Object // created or changed since the token, by name
	Removed []string // names removed since the token
	Token   string   // the token to send next time
}

// Sync lists what changed in a collection since a sync token ("" for
// everything). A token of another collection, a malformed one, or one
// whose changes are no longer recorded is ErrInvalidSyncToken.
func (s *Service) Sync(ctx context.Context, a *Account, c *Collection, token string) (*Changes, error) {
	var since int64
	if token != "" {
		m, err := parseSyncToken(c, token)
		if err != nil {
			return nil, err
		}
		since = m
	}
	fs, err := s.Store.SyncFolder(ctx, a.Mailbox.ID, c.Folder.ID, since)
	if errors.Is(err, mailstore.ErrSyncTokenExpired) {
		return nil, ErrInvalidSyncToken.Newf("sync token %q of %q is too old: %s", token, c.Name, errs.As(err).Message).WithObject(token).
			WithHint("synchronise the collection again without a token")
	}
	if err != nil {
		return nil, err
	}
	out := &Changes{Removed: fs.Removed, Token: SyncToken(c, fs.Token)}
	for i := range fs.Changed {
		out.Changed = append(out.Changed, objectOf(&fs.Changed[i]))
	}
	return out, nil
}
