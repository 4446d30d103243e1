package imapd

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// session is the state of one IMAP connection. go-imap calls its methods
// from the connection's goroutine (Idle from a second one while the first
// waits), so fields need no locking; the shared state lives in views.
type session struct {
	srv    *Server
	conn   *imapserver.Conn
	fc     *filterConn // nil if the connection is not one of ours
	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger

	user      string               // the login address, after LOGIN
	rec       *directory.Recipient // the logged-in recipient, after LOGIN
	mb        *mailstore.Mailbox   // the user's mailbox, after LOGIN
	mounts    []mount              // its archive and shared mailboxes (see ArchiveRoot, SharedRoot)
	sel       *selected            // the selected folder, if any
	searchRes imap.UIDSet          // the saved SEARCH result (SEARCHRES, "$")
	notify    *notifier            // NOTIFY SET in force (notify.go), or nil
	mods      modState             // CONDSTORE and QRESYNC (condstore.go)
}

// selected is the selected state of a session.
type selected struct {
	mb       *mailstore.Mailbox // the mailbox that holds the folder (own, archive or shared)
	folder   mailstore.Folder
	name     string // IMAP name as selected
	w        *watcher
	v        *view
	cv       *clientView
	readOnly bool // EXAMINE: no changes at all
	writable bool // neither EXAMINE nor a locked or retired mailbox

	// searches are the SEARCH RETURN (UPDATE) contexts (searchupdate.go).
	searches []*searchContext
}

var (
	_ imapserver.Session            = (*session)(nil)
	_ imapserver.SessionIMAP4rev2   = (*session)(nil)
	_ imapserver.SessionNamespace   = (*session)(nil)
	_ imapserver.SessionMove        = (*session)(nil)
	_ imapserver.SessionAppendLimit = (*session)(nil)
)

// newSession is imapserver's NewSession hook.
func (s *Server) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	ctx, cancel := context.WithCancel(s.ctx)
	sess := &session{srv: s, conn: c, ctx: ctx, cancel: cancel}
	if fc, ok := c.NetConn().(*filterConn); ok {
		sess.fc = fc
	}
	sess.log = s.log.With("remote", c.NetConn().RemoteAddr().String())
	return sess, nil, nil
}

// Close implements imapserver.Session: it releases the selected folder and
// cancels the session's context.
func (s *session) Close() error {
	s.unselect()
	s.cancel()
	return nil
}

// AppendLimit implements imapserver.SessionAppendLimit.
func (s *session) AppendLimit() uint32 { return s.srv.appendLimit() }

// Poll implements imapserver.Session: it writes the pending updates of the
// selected folder.
func (s *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if err := s.flushNotify(); err != nil {
		return err
	}
	if s.sel == nil {
		return nil
	}
	return s.sendUpdates(allowExpunge)
}

// Idle implements imapserver.Session: it writes the updates of the
// selected folder as they come, until stop is closed.
func (s *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	for s.sel == nil {
		select {
		case <-s.notifyWake():
			if err := s.flushNotify(); err != nil {
				return err
			}
		case <-stop:
			return nil
		case <-s.ctx.Done():
			return nil
		}
	}
	for {
		if err := s.sendUpdates(true); err != nil {
			return err
		}
		if err := s.flushNotify(); err != nil {
			return err
		}
		select {
		case <-s.notifyWake():
		case <-s.sel.cv.wake:
		case <-stop:
			return nil
		case <-s.ctx.Done():
			return nil
		}
	}
}

// sendUpdates replays the selected folder's changes into the client's
// view and writes them (below go-imap, updatewrite.go), then the search
// contexts' updates.
func (s *session) sendUpdates(allowExpunge bool) error {
	w := s.newRespWriter()
	if err := s.writePendingUpdates(w, allowExpunge); err != nil {
		return err
	}
	return w.Flush()
}

// delim is the hierarchy delimiter as a rune.
const delim = '/'

// folderByName returns the visible folder with an IMAP name and the
// mailbox that holds it (see locate). Folders of other classes than
// IPF.Note (calendar, contacts, tasks) do not exist for IMAP.
func (s *session) folderByName(name string) (*mailstore.Folder, *mailstore.Mailbox, error) {
	name = strings.TrimSuffix(name, mailstore.Delimiter)
	p, err := s.locate(name)
	if err != nil {
		return nil, nil, err
	}
	f, err := s.srv.store.FolderByPath(s.ctx, p.mb.ID, p.path)
	if err != nil {
		return nil, nil, err
	}
	if f.Class != mailstore.ClassNote {
		return nil, nil, errs.NotFoundf("FolderNotFound", "folder %q does not exist", name).WithObject(name).
			WithHint("only mail folders are visible over IMAP")
	}
	return f, p.mb, nil
}

// destFolder resolves the destination of APPEND, COPY and MOVE: a missing
// one is NO [TRYCREATE].
func (s *session) destFolder(name string) (*mailstore.Folder, *mailstore.Mailbox, error) {
	f, mb, err := s.folderByName(name)
	if errors.Is(err, mailstore.ErrFolderNotFound) {
		return nil, nil, tryCreateError(name)
	}
	return f, mb, err
}

// selectedFolder returns the selected state, or a BAD when there is none
// (imapserver checks the state; this guards the nil).
func (s *session) selectedFolder() (*selected, error) {
	if s.sel == nil {
		return nil, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "no folder selected"}
	}
	return s.sel, nil
}

// imapName returns the IMAP name of a folder: its path, with the \Inbox
// folder spelled INBOX (also as the first level of its subfolders).
func imapName(f *mailstore.Folder, inboxPath string) string {
	if inboxPath == "" {
		return f.Path
	}
	if strings.EqualFold(f.Path, inboxPath) {
		return "INBOX"
	}
	if len(f.Path) > len(inboxPath) && strings.EqualFold(f.Path[:len(inboxPath)], inboxPath) && f.Path[len(inboxPath)] == delim {
		return "INBOX" + f.Path[len(inboxPath):]
	}
	return f.Path
}
