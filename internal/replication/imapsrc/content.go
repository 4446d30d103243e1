package imapsrc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// location is where a mirror message is on the server.
type location struct {
	folder      string // server name
	uidvalidity uint32
	uid         uint32
	gone        bool // expunged, or its folder deleted
}

// run is a stretch of requested ids in one folder with increasing UIDs:
// one UID FETCH.
type run struct {
	start, end  int // ids[start:end]
	folder      string
	uidvalidity uint32
}

// OpenContent streams BODY.PEEK[] of many messages, one UID FETCH per run
// of ids in one folder with increasing UIDs. Frames come in the order of
// ids; a message the server no longer has is a SizeGone frame. The bodies
// stream from the IMAP literals (nothing is held in memory).
func (s *Source) OpenContent(ctx context.Context, guid string, ids []int64) (*replication.ContentStream, error) {
	locs, err := s.locate(ctx, ids)
	if err != nil {
		return nil, err
	}
	var runs []run
	for i, id := range ids {
		l := locs[id]
		if n := len(runs); n > 0 {
			r := &runs[n-1]
			prev := locs[ids[i-1]]
			if !l.gone && !prev.gone && r.folder == l.folder && r.uidvalidity == l.uidvalidity && l.uid > prev.uid {
				r.end = i + 1
				continue
			}
		}
		runs = append(runs, run{start: i, end: i + 1, folder: l.folder, uidvalidity: l.uidvalidity})
	}
	s.mu.Lock()
	c, err := s.client(ctx)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	st := &stream{s: s, c: c, ctx: ctx, ids: ids, locs: locs, runs: runs, run: -1}
	st.stop = context.AfterFunc(ctx, func() { c.c.Close() })
	return replication.NewContentStream(st.next, st.close), nil
}

// locate reads where each id is.
func (s *Source) locate(ctx context.Context, ids []int64) (map[int64]location, error) {
	out := make(map[int64]location, len(ids))
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		args := []any{s.moveID}
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := s.d.Read().QueryContext(ctx, `SELECT i.id, f.name, i.uidvalidity, i.uid, i.deleted, f.deleted FROM imap_items i
			JOIN imap_folders f ON f.id = i.folder_id WHERE i.move_id = ? AND i.id IN (`+db.InList(len(chunk))+`)`, args...)
		if err != nil {
			return nil, errs.Internalf(err, "locate IMAP messages")
		}
		for rows.Next() {
			var id, uv, uid int64
			var l location
			var fdel bool
			if err := rows.Scan(&id, &l.folder, &uv, &uid, &l.gone, &fdel); err != nil {
				rows.Close()
				return nil, errs.Internalf(err, "locate IMAP messages")
			}
			l.uidvalidity, l.uid, l.gone = uint32(uv), uint32(uid), l.gone || fdel
			out[id] = l
		}
		rows.Close()
	}
	for _, id := range ids {
		if _, ok := out[id]; !ok {
			out[id] = location{gone: true}
		}
	}
	return out, nil
}

// stream is one OpenContent in progress. It holds the Source's lock until
// closed: the connection serves one command at a time.
type stream struct {
	s      *Source
	c      *conn
	ctx    context.Context
	ids    []int64
	locs   map[int64]location
	runs   []run
	pos    int // next id to return
	run    int // index of the current run, -1 before the first
	cmd    *imapclient.FetchCommand
	held   *fetched // a message read ahead (a UID beyond the expected one)
	spool  *os.File
	stop   func() bool
	closed bool
	err    error
}

// fetched is one message of the FETCH response.
type fetched struct {
	uid  uint32
	body io.Reader
	size int64
}

func gone(id int64) replication.Frame {
	return replication.Frame{ID: id, Size: replication.SizeGone, Body: bytes.NewReader(nil)}
}

func (st *stream) next() (replication.Frame, error) {
	if st.err != nil {
		return replication.Frame{}, st.err
	}
	if st.pos >= len(st.ids) {
		return replication.Frame{}, errs.Internalf(io.EOF, "read past the end of an IMAP content stream")
	}
	id := st.ids[st.pos]
	l := st.locs[id]
	// Enter the run of this position.
	ri := 0
	for ri < len(st.runs) && st.runs[ri].end <= st.pos {
		ri++
	}
	if ri != st.run {
		if err := st.startRun(ri); err != nil {
			st.err = st.s.broken(st.ctx, "fetching messages", err)
			return replication.Frame{}, st.err
		}
	}
	st.pos++
	if l.gone || st.cmd == nil {
		return gone(id), nil
	}
	for {
		f := st.held
		st.held = nil
		if f == nil {
			msg := st.cmd.Next()
			if msg == nil {
				return gone(id), nil // the server sent no more: expunged
			}
			var err error
			if f, err = st.read(msg); err != nil {
				st.err = st.s.broken(st.ctx, "fetching messages", err)
				return replication.Frame{}, st.err
			}
			if f == nil {
				continue // an unsolicited FETCH (flags of another session)
			}
		}
		switch {
		case f.uid == l.uid:
			return replication.Frame{ID: id, Size: f.size, Body: f.body}, nil
		case f.uid > l.uid:
			st.held = f // this one was expunged; f is for a later id
			return gone(id), nil
		}
		// A UID we did not ask for comes first: skip it.
	}
}

// startRun ends the current command and starts the UID FETCH of run ri
// (none when its folder is gone or changed its UIDVALIDITY).
func (st *stream) startRun(ri int) error {
	if err := st.endCmd(); err != nil {
		return err
	}
	st.run = ri
	r := st.runs[ri]
	first := st.locs[st.ids[r.start]]
	if first.gone {
		return nil
	}
	c := st.c
	if st.s.selected != r.folder {
		st.s.selected, st.s.selectedUV = "", 0
		d, err := c.c.Select(r.folder, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			var ie *imap.Error
			if asIMAP(err, &ie) && ie.Type == imap.StatusResponseTypeNo {
				return nil // the folder is gone: its messages are too
			}
			return err
		}
		st.s.selected, st.s.selectedUV = r.folder, d.UIDValidity
	}
	if st.s.selectedUV != r.uidvalidity {
		return nil // renumbered: the next scan sees the messages again
	}
	var set imap.UIDSet
	for _, id := range st.ids[r.start:r.end] {
		set.AddNum(imap.UID(st.locs[id].uid))
	}
	st.cmd = c.c.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	return nil
}

// read reads a message's UID and the start of its body: the literal is
// returned unread (it streams), unless the server sent it before the UID,
// when it is spooled to a temporary file.
func (st *stream) read(msg *imapclient.FetchMessageData) (*fetched, error) {
	f := &fetched{}
	for {
		item := msg.Next()
		if item == nil {
			if f.uid == 0 || f.body == nil {
				return nil, nil
			}
			return f, nil
		}
		switch d := item.(type) {
		case imapclient.FetchItemDataUID:
			f.uid = uint32(d.UID)
			if f.body != nil {
				return f, nil
			}
		case imapclient.FetchItemDataBodySection:
			if d.Literal == nil {
				f.body, f.size = bytes.NewReader(nil), 0
			} else if f.uid != 0 {
				f.body, f.size = d.Literal, d.Literal.Size()
				return f, nil
			} else {
				if err := st.spoolBody(f, d.Literal); err != nil {
					return nil, err
				}
			}
		}
	}
}

// spoolBody copies a literal that came before its UID to a temporary file.
func (st *stream) spoolBody(f *fetched, lit imap.LiteralReader) error {
	if st.spool == nil {
		sp, err := os.CreateTemp("", "tenantferry-imap-*")
		if err != nil {
			return err
		}
		os.Remove(sp.Name())
		st.spool = sp
	}
	if _, err := st.spool.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := st.spool.Truncate(0); err != nil {
		return err
	}
	n, err := io.Copy(st.spool, lit)
	if err != nil {
		return err
	}
	f.body, f.size = io.NewSectionReader(st.spool, 0, n), n
	return nil
}

// endCmd drains and ends the current FETCH.
func (st *stream) endCmd() error {
	if st.cmd == nil {
		return nil
	}
	cmd := st.cmd
	st.cmd, st.held = nil, nil
	return cmd.Close()
}

func (st *stream) close() error {
	if st.closed {
		return nil
	}
	st.closed = true
	err := st.endCmd()
	if st.spool != nil {
		st.spool.Close()
	}
	st.stop()
	st.s.mu.Unlock()
	if st.err != nil || st.ctx.Err() != nil {
		return nil
	}
	if err != nil {
		st.s.broken(st.ctx, "fetching messages", err)
	}
	return nil
}

func asIMAP(err error, target **imap.Error) bool { return errors.As(err, target) }
