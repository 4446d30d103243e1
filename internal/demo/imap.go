package demo

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/tenantferry/tenantferry/internal/units"
)

// imapSession is a logged-in IMAP client of the demo (a user's mail app).
type imapSession struct{ c *imapclient.Client }

// imapLogin connects to addr and logs in as user.
func imapLogin(addr, user, password string) (*imapSession, error) {
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		return nil, fmt.Errorf("connect to IMAP %s: %w", addr, err)
	}
	if err := c.Login(user, password).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("IMAP login as %s: %w", user, err)
	}
	return &imapSession{c: c}, nil
}

// close logs out.
func (s *imapSession) close() {
	s.c.Logout().Wait()
	s.c.Close()
}

// treeCount counts the folders and messages of the folder tree below root
// (LIST root/*, then STATUS MESSAGES of each).
func (s *imapSession) treeCount(root string) (folders int, messages int64, err error) {
	list, err := s.c.List("", root+"/*", nil).Collect()
	if err != nil {
		return 0, 0, fmt.Errorf("IMAP LIST %s/*: %w", root, err)
	}
	for _, l := range list {
		st, err := s.c.Status(l.Mailbox, &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil {
			return 0, 0, fmt.Errorf("IMAP STATUS %s: %w", l.Mailbox, err)
		}
		folders++
		messages += int64(*st.NumMessages)
	}
	return folders, messages, nil
}

// found is a message found over IMAP.
type found struct {
	Folder    string
	UID       uint32
	Subject   string
	MessageID string
	Flags     []string
	Received  []string // Received header fields, newest first
	Exists    uint32   // messages in the folder (findSubject only)
}

// flagFirstUnflagged adds flag to the first message of folder that lacks
// it and returns that message.
func (s *imapSession) flagFirstUnflagged(folder string, flag imap.Flag) (*found, error) {
	if _, err := s.c.Select(folder, nil).Wait(); err != nil {
		return nil, fmt.Errorf("select %s: %w", folder, err)
	}
	data, err := s.c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{flag}}, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("search %s: %w", folder, err)
	}
	uids := data.AllUIDs()
	if len(uids) == 0 {
		return nil, fmt.Errorf("every message of %s already has %s", folder, flag)
	}
	set := imap.UIDSetNum(uids[0])
	if err := s.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{flag}, Silent: true}, nil).Close(); err != nil {
		return nil, fmt.Errorf("store %s: %w", flag, err)
	}
	return s.fetch(folder, set)
}

// findSubject looks for a message with the exact subject in folder.
func (s *imapSession) findSubject(folder, subject string) (*found, error) {
	sel, err := s.c.Select(folder, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("select %s: %w", folder, err)
	}
	data, err := s.c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: subject}}}, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("search %s: %w", folder, err)
	}
	uids := data.AllUIDs()
	if len(uids) == 0 {
		return nil, nil
	}
	f, err := s.fetch(folder, imap.UIDSetNum(uids[0]))
	if f != nil {
		f.Exists = sel.NumMessages
	}
	return f, err
}

// fetch returns the first message of set.
func (s *imapSession) fetch(folder string, set imap.NumSet) (*found, error) {
	sec := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Received"}, Peek: true}
	msgs, err := s.c.Fetch(set, &imap.FetchOptions{UID: true, Envelope: true, Flags: true, BodySection: []*imap.FetchItemBodySection{sec}}).Collect()
	if err != nil {
		return nil, fmt.Errorf("fetch from %s: %w", folder, err)
	}
	if len(msgs) == 0 {
		return nil, fmt.Errorf("message vanished from %s", folder)
	}
	m := msgs[0]
	f := &found{Folder: folder, UID: uint32(m.UID)}
	if m.Envelope != nil {
		f.Subject, f.MessageID = m.Envelope.Subject, m.Envelope.MessageID
	}
	for _, fl := range m.Flags {
		f.Flags = append(f.Flags, string(fl))
	}
	f.Received = receivedLines(m.FindBodySection(sec))
	return f, nil
}

// receivedLines unfolds the Received fields of a header block.
func receivedLines(hdr []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(hdr))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case l == "":
		case l[0] == ' ' || l[0] == '\t':
			if len(out) > 0 {
				out[len(out)-1] += " " + strings.TrimSpace(l)
			}
		default:
			out = append(out, strings.TrimSpace(strings.TrimPrefix(l, "Received:")))
		}
	}
	return out
}

// waitFor polls f until it returns a message or an error; nil, nil when
// the timeout passes first.
func waitFor(ctx context.Context, timeout time.Duration, f func() (*found, error)) (*found, error) {
	deadline := time.Now().Add(timeout)
	for {
		m, err := f()
		if err != nil || m != nil {
			return m, err
		}
		if time.Now().After(deadline) {
			return nil, nil
		}
		if err := units.Sleep(ctx, 200*time.Millisecond); err != nil {
			return nil, err
		}
	}
}
