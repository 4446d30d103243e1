package server

import (
	"github.com/tenantferry/tenantferry/internal/units"

	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// notifyChannel is the PostgreSQL channel that carries mailbox change
// events between nodes sharing one database.
const notifyChannel = "tenantferry_mailbox_events"

// setupNotify bridges mailbox change events between nodes that share a
// PostgreSQL database (docs/architecture.md §8): every local event is sent with NOTIFY as
// "node:mailbox:modseq", and events of other nodes arrive with LISTEN and
// are delivered to this node's subscribers as a resync of that mailbox (IMAP
// sessions reload from the store). Events are hints: losing one costs an
// IMAP client a delayed update, never data. SQLite has one node only.
func (s *Server) setupNotify(ctx context.Context) error {
	if s.DB.Dialect != db.Postgres {
		return nil
	}
	node := strconv.FormatInt(time.Now().UnixNano(), 36)
	out := make(chan mailstore.Event, 1024)
	s.Store.Hub().SetTap(func(ev mailstore.Event) {
		select {
		case out <- ev:
		default: // a burst beyond the buffer: remote sessions resync later
		}
	})
	bctx, cancel := context.WithCancel(context.Background())
	s.closers = append(s.closers, func(context.Context) error { cancel(); return nil })
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		s.notifySender(bctx, node, out)
	}()
	go func() {
		defer s.wg.Done()
		s.notifyListener(bctx, node)
	}()
	return nil
}

// notifySender sends local events to the other nodes, reconnecting when the
// connection drops.
func (s *Server) notifySender(ctx context.Context, node string, out <-chan mailstore.Event) {
	for ctx.Err() == nil {
		conn, err := pgx.Connect(ctx, s.Cfg.DB)
		if err != nil {
			s.Log.Warn("event bridge: connect", "err", err)
			units.Sleep(ctx, time.Second)
			continue
		}
		// The events are hints (a lost one costs a delayed IMAP update,
		// never data), so their transactions do not wait for the WAL
		// flush: without this every event was a commit of its own that
		// waited for an fsync (~20 per small mailbox moved).
		_, err = conn.Exec(ctx, "SET synchronous_commit = off")
		for err == nil {
			select {
			case <-ctx.Done():
				conn.Close(context.Background())
				return
			case ev := <-out:
				_, err = conn.Exec(ctx, "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", notifyChannel, notifyPayloads(node, ev, out))
			}
		}
		conn.Close(context.Background())
		if ctx.Err() == nil {
			s.Log.Warn("event bridge: notify", "err", err)
		}
	}
}

// notifyListener delivers other nodes' events to local subscribers.
func (s *Server) notifyListener(ctx context.Context, node string) {
	for ctx.Err() == nil {
		conn, err := pgx.Connect(ctx, s.Cfg.DB)
		if err == nil {
			_, err = conn.Exec(ctx, "LISTEN "+notifyChannel)
		}
		for err == nil {
			var n *pgconn.Notification
			n, err = conn.WaitForNotification(ctx)
			if err != nil {
				break
			}
			parts := strings.Split(n.Payload, ":")
			if len(parts) != 3 || parts[0] == node {
				continue
			}
			mb, _ := strconv.ParseInt(parts[1], 10, 64)
			ms, _ := strconv.ParseInt(parts[2], 10, 64)
			s.Store.Hub().Deliver(mailstore.Event{MailboxID: mb, Kind: mailstore.EventResync, ModSeq: ms})
		}
		if conn != nil {
			conn.Close(context.Background())
		}
		if ctx.Err() == nil {
			s.Log.Warn("event bridge: listen", "err", err)
			units.Sleep(ctx, time.Second)
		}
	}
}

// notifyPayloads drains the events waiting in out after ev and returns one
// payload per mailbox, with its highest MODSEQ: the other nodes resync a
// mailbox on any event of it, so a burst (a sync pass creating folders and
// items) is one NOTIFY statement, one transaction.
func notifyPayloads(node string, ev mailstore.Event, out <-chan mailstore.Event) []string {
	latest := map[int64]int64{ev.MailboxID: ev.ModSeq}
	order := []int64{ev.MailboxID}
	for len(latest) < 1000 {
		select {
		case e := <-out:
			if ms, ok := latest[e.MailboxID]; !ok {
				order = append(order, e.MailboxID)
				latest[e.MailboxID] = e.ModSeq
			} else if e.ModSeq > ms {
				latest[e.MailboxID] = e.ModSeq
			}
			continue
		default:
		}
		break
	}
	payloads := make([]string, 0, len(order))
	for _, mb := range order {
		payloads = append(payloads, fmt.Sprintf("%s:%d:%d", node, mb, latest[mb]))
	}
	return payloads
}
