package mailstore

import "sync"

// EventKind says what changed.
type EventKind string

// Event kinds.
const (
	// EventAppended: items appeared in FolderID (UIDs, Flags).
	EventAppended EventKind = "appended"
	// EventExpunged: items left FolderID (expunge, move away, delete).
	EventExpunged EventKind = "expunged"
	// EventFlags: flags of items in FolderID changed (UIDs, Flags).
	EventFlags EventKind = "flags"
	// EventFolders: the folder hierarchy changed (FolderID created,
	// renamed, deleted or (un)subscribed).
	EventFolders EventKind = "folders"
	// EventMailbox: the mailbox state changed (e.g. it was locked), or the
	// mailbox was deleted.
	EventMailbox EventKind = "mailbox"
	// EventResync: events were dropped because the subscriber fell behind;
	// reload what you show from the store.
	EventResync EventKind = "resync"
)

// Event is a committed change of a mailbox.
type Event struct {
	MailboxID int64     // mailbox that changed
	Kind      EventKind // what changed
	FolderID  int64     // folder concerned (internal id), 0 for mailbox events
	ModSeq    int64     // MODSEQ of the change
	// UIDs are the affected UIDs in FolderID, ascending.
	UIDs []uint32
	// Flags holds the new flags per UID for EventAppended and EventFlags.
	Flags [][]string
}

// subBuffer is how many events a subscriber may have pending before it is
// switched to a single EventResync.
const subBuffer = 256

// Hub fans committed change events out to in-process subscribers (IMAP
// IDLE and selected-state updates). Publish never blocks. A multi-node
// bridge (e.g. PostgreSQL LISTEN/NOTIFY) can feed remote events in with
// Publish.
type Hub struct {
	mu   sync.Mutex
	subs map[int64]map[*subscriber]struct{}
	tap  func(Event)
}

// SetTap installs a function that sees every locally published event (the
// multi-node bridge forwards them to other nodes). It must not block.
func (h *Hub) SetTap(f func(Event)) {
	h.mu.Lock()
	h.tap = f
	h.mu.Unlock()
}

type subscriber struct {
	ch chan Event
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{subs: map[int64]map[*subscriber]struct{}{}} }

// Subscribe returns a channel of the mailbox's events and a cancel function
// that must be called to release it (the channel is closed then).
func (h *Hub) Subscribe(mailboxID int64) (<-chan Event, func()) {
	s := &subscriber{ch: make(chan Event, subBuffer)}
	h.mu.Lock()
	m := h.subs[mailboxID]
	if m == nil {
		m = map[*subscriber]struct{}{}
		h.subs[mailboxID] = m
	}
	m[s] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs[mailboxID], s)
			if len(h.subs[mailboxID]) == 0 {
				delete(h.subs, mailboxID)
			}
			close(s.ch)
			h.mu.Unlock()
		})
	}
}

// Publish delivers a local event to the mailbox's subscribers without
// blocking, and to the tap. A subscriber whose buffer is full loses its
// pending events and gets one EventResync instead.
func (h *Hub) Publish(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.tap != nil {
		h.tap(ev)
	}
	h.deliver(ev)
}

// Deliver fans an event from another node out to this node's subscribers
// (not to the tap, so events never echo between nodes).
func (h *Hub) Deliver(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deliver(ev)
}

func (h *Hub) deliver(ev Event) {
	for s := range h.subs[ev.MailboxID] {
		select {
		case s.ch <- ev:
			continue
		default:
		}
		// Full: drop what is pending and ask for a resync.
	drain:
		for {
			select {
			case <-s.ch:
			default:
				break drain
			}
		}
		select {
		case s.ch <- Event{MailboxID: ev.MailboxID, Kind: EventResync, ModSeq: ev.ModSeq}:
		default:
		}
	}
}
