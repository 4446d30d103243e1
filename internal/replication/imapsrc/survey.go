package imapsrc

import (
	"context"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/replication"
)

// Survey logs a user in and lists, read-only, what the server holds: its
// folders (with their special uses, as a scan assigns them; ids are the
// server names) and the folder, internal date and size of every message.
// It writes nothing (no mirror): it serves a batch's dry run.
func Survey(ctx context.Context, srv Server, user, password string) ([]replication.FolderInfo, []replication.PreviewItem, error) {
	c, err := dial(ctx, srv)
	if err != nil {
		return nil, nil, err
	}
	defer c.c.Close()
	if err := c.login(ctx, user, password); err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.c.Close() })
	defer stop()
	sc := &scanner{c: c, ctx: ctx, caps: c.c.Caps()}
	ls, err := sc.list()
	if err != nil {
		return nil, nil, unreachable(srv.URL, "listing the folders of %s failed", user).WithCause(err)
	}
	assignSpecialUse(ls)
	var folders []replication.FolderInfo
	var items []replication.PreviewItem
	for _, l := range ls {
		parent := ""
		if l.delim != "" {
			if i := strings.LastIndex(l.name, l.delim); i > 0 {
				parent = l.name[:i]
			}
		}
		folders = append(folders, replication.FolderInfo{Id: l.name, ParentId: parent, Name: leafName(l.name, l.delim), SpecialUse: l.special})
		if l.noselect || l.messages == 0 {
			continue
		}
		if _, err := c.c.Select(l.name, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			return nil, nil, unreachable(srv.URL, "examining folder %q of %s failed", l.name, user).WithCause(err)
		}
		msgs, err := c.c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{RFC822Size: true, InternalDate: true}).Collect()
		if err != nil {
			return nil, nil, unreachable(srv.URL, "listing the messages of folder %q of %s failed", l.name, user).WithCause(err)
		}
		for _, m := range msgs {
			items = append(items, replication.PreviewItem{Folder: l.name, Date: m.InternalDate.Truncate(time.Millisecond), Size: m.RFC822Size})
		}
	}
	return folders, items, nil
}
