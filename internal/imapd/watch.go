package imapd

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// gapWait is how long a watcher waits for a missing MODSEQ before it
// reloads its views from the store.
const gapWait = 250 * time.Millisecond

// ownWait bounds how long a session waits for the events of its own
// mutation (an APPEND or COPY into the selected folder) to be applied.
const ownWait = 2 * time.Second

// watchers is the registry of mailbox watchers, one per mailbox that has
// at least one selected folder in this process.
type watchers struct {
	ctx   context.Context
	store *mailstore.Store
	log   *slog.Logger

	mu sync.Mutex
	m  map[int64]*watcher
}

func newWatchers(ctx context.Context, store *mailstore.Store, log *slog.Logger) *watchers {
	return &watchers{ctx: ctx, store: store, log: log, m: map[int64]*watcher{}}
}

// watcher follows the committed change events of one mailbox (mailstore's
// Hub) and applies them, in MODSEQ order, to the views of its selected
// folders. Every committed mutation raises the mailbox MODSEQ by one and
// publishes its events after commit, so events normally arrive contiguous;
// one that arrives early waits for the missing ones for gapWait, after
// which (and on EventResync) the views are reloaded from the store.
type watcher struct {
	ws        *watchers
	mailboxID int64
	refs      int // guarded by ws.mu

	events <-chan mailstore.Event
	cancel func()
	done   chan struct{}

	mu      sync.Mutex
	cond    *sync.Cond
	applied int64 // every event up to this MODSEQ has been applied
	pending map[int64][]mailstore.Event
	views   map[int64]*view
}

// acquire returns the running watcher of a mailbox, starting it if needed.
// Call release when done.
func (ws *watchers) acquire(ctx context.Context, mailboxID int64) (*watcher, error) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if w := ws.m[mailboxID]; w != nil {
		w.refs++
		return w, nil
	}
	events, cancel := ws.store.Subscribe(mailboxID)
	// Subscribed first: every event after this MODSEQ will be received.
	h, err := ws.store.HighestModSeq(ctx, mailboxID)
	if err != nil {
		cancel()
		return nil, err
	}
	w := &watcher{ws: ws, mailboxID: mailboxID, refs: 1, events: events, cancel: cancel, done: make(chan struct{}),
		applied: h, pending: map[int64][]mailstore.Event{}, views: map[int64]*view{}}
	w.cond = sync.NewCond(&w.mu)
	ws.m[mailboxID] = w
	go w.run()
	return w, nil
}

// release drops a reference; the last one stops the watcher.
func (ws *watchers) release(w *watcher) {
	ws.mu.Lock()
	w.refs--
	last := w.refs == 0
	if last {
		delete(ws.m, w.mailboxID)
	}
	ws.mu.Unlock()
	if last {
		w.cancel() // closes the event channel; run returns
		<-w.done
	}
}

func (w *watcher) run() {
	defer close(w.done)
	var gap *time.Timer
	var gapC <-chan time.Time
	for {
		select {
		case ev, ok := <-w.events:
			if !ok {
				if gap != nil {
					gap.Stop()
				}
				return
			}
			w.safely(func() { w.handle(ev) })
		case <-gapC:
			gap, gapC = nil, nil
			w.safely(w.resync)
		}
		w.mu.Lock()
		waiting := len(w.pending) > 0
		w.mu.Unlock()
		switch {
		case waiting && gapC == nil:
			gap = time.NewTimer(gapWait)
			gapC = gap.C
		case !waiting && gap != nil:
			gap.Stop()
			gap, gapC = nil, nil
		}
	}
}

// safely runs f, logging a panic instead of taking the process down: a
// view is then possibly stale, which a later resync repairs.
func (w *watcher) safely(f func()) {
	defer func() {
		if p := recover(); p != nil {
			w.ws.log.Error("imap: applying mailbox changes panicked", "mailbox", w.mailboxID, "panic", p)
		}
	}()
	f()
}

// handle applies one event, or queues it until the events before it came.
func (w *watcher) handle(ev mailstore.Event) {
	switch ev.Kind {
	case mailstore.EventMailbox:
		return // state changes need no view update; sessions read the state
	case mailstore.EventResync:
		w.resync()
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if ev.ModSeq > w.applied+1 {
		w.pending[ev.ModSeq] = append(w.pending[ev.ModSeq], ev)
		return
	}
	w.applyLocked(ev)
	if ev.ModSeq == w.applied+1 {
		w.applied = ev.ModSeq
	}
	w.drainLocked()
}

// drainLocked applies queued events that have become contiguous.
func (w *watcher) drainLocked() {
	var old []int64
	for m := range w.pending {
		if m <= w.applied {
			old = append(old, m)
		}
	}
	slices.Sort(old)
	for _, m := range old {
		for _, e := range w.pending[m] {
			w.applyLocked(e)
		}
		delete(w.pending, m)
	}
	for {
		evs, ok := w.pending[w.applied+1]
		if !ok {
			break
		}
		delete(w.pending, w.applied+1)
		for _, e := range evs {
			w.applyLocked(e)
		}
		w.applied++
	}
	w.cond.Broadcast()
}

func (w *watcher) applyLocked(ev mailstore.Event) {
	if v := w.views[ev.FolderID]; v != nil {
		v.apply(ev)
	}
}

// resync reloads every view from the store and moves past the events it
// has not seen; the views report the differences to their sessions.
func (w *watcher) resync() {
	ctx := w.ws.ctx
	h, err := w.ws.store.HighestModSeq(ctx, w.mailboxID)
	gone := errors.Is(err, mailstore.ErrMailboxNotFound)
	if err != nil && !gone {
		w.ws.log.Warn("imap: reload mailbox", "mailbox", w.mailboxID, "err", err)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, v := range w.views {
		var snap *mailstore.Snapshot
		if !gone {
			snap, err = w.ws.store.Select(ctx, w.mailboxID, id)
			if err != nil && !errors.Is(err, mailstore.ErrFolderNotFound) {
				w.ws.log.Warn("imap: reload folder", "mailbox", w.mailboxID, "folder", id, "err", err)
				continue
			}
		}
		v.reset(snap)
	}
	if h > w.applied {
		w.applied = h
	}
	w.drainLocked()
	// Whatever is still waiting committed after h: apply it rather than
	// wait again (the views ignore what their snapshots already hold).
	for m := range w.pending {
		w.applied = max(w.applied, m)
	}
	w.drainLocked()
}

// await waits until this process's watcher of the mailbox, if it has
// one, has applied the changes up to the MODSEQ modseq returns (read only
// when there is a watcher), at most ownWait: then every session of this
// process that has a folder of the mailbox selected sees the change with
// its next command. Commands that change a mailbox call it before they
// complete, as Dovecot's sessions share one index.
func (ws *watchers) await(mailboxID int64, modseq func() (int64, error)) {
	ws.mu.Lock()
	w := ws.m[mailboxID]
	if w != nil {
		w.refs++
	}
	ws.mu.Unlock()
	if w == nil {
		return
	}
	defer ws.release(w)
	if m, err := modseq(); err == nil {
		w.waitApplied(m)
	}
}

// waitApplied waits until the events up to MODSEQ m have been applied, at
// most ownWait.
func (w *watcher) waitApplied(m int64) {
	timedOut := false
	t := time.AfterFunc(ownWait, func() {
		w.mu.Lock()
		timedOut = true
		w.cond.Broadcast()
		w.mu.Unlock()
	})
	defer t.Stop()
	w.mu.Lock()
	for w.applied < m && !timedOut {
		w.cond.Wait()
	}
	w.mu.Unlock()
}

// openView returns the shared view of a folder (loading it on first use)
// and registers a session with it: the session's view of the folder and
// the SELECT data are taken at one moment, under the lock the watcher
// applies changes with, so that every later change reaches the session
// through the view's log. Call closeView when done.
func (w *watcher) openView(ctx context.Context, folderID int64) (*view, *clientView, selectState, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v := w.views[folderID]
	if v == nil {
		snap, err := w.ws.store.Select(ctx, w.mailboxID, folderID)
		if err != nil {
			return nil, nil, selectState{}, err
		}
		v = newView(folderID, snap)
		w.views[folderID] = v
	}
	v.refs++
	cv, st := v.openClient()
	return v, cv, st, nil
}

// closeView releases a view opened with openView.
func (w *watcher) closeView(v *view, cv *clientView) {
	v.closeClient(cv)
	w.mu.Lock()
	v.refs--
	if v.refs == 0 {
		delete(w.views, v.folderID)
	}
	w.mu.Unlock()
}
