package scenario

import (
	"bytes"
	"context"
	"errors"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/mailgen"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/testsupport/corpus"
)

// Item is one message to put into a mailbox.
type Item struct {
	Folder string
	Data   []byte
	Flags  []string
	Date   time.Time
}

// Fill appends items to a mailbox in chunks, creating folders as needed.
func Fill(t testing.TB, st *mailstore.Store, mailboxID int64, items []Item) {
	t.Helper()
	ctx := context.Background()
	folders := map[string]int64{}
	b := st.NewAppendBatch(mailboxID)
	flush := func() {
		if b.Len() > 0 {
			if _, err := b.Commit(ctx, nil); err != nil {
				t.Fatal(err)
			}
		}
		b.Close()
		b = st.NewAppendBatch(mailboxID)
	}
	for _, it := range items {
		fid, ok := folders[it.Folder]
		if !ok {
			f, err := st.FolderByPath(ctx, mailboxID, it.Folder)
			if errors.Is(err, mailstore.ErrFolderNotFound) {
				f, err = st.CreateFolder(ctx, mailboxID, it.Folder, mailstore.FolderOptions{})
			}
			if err != nil {
				t.Fatalf("folder %s: %v", it.Folder, err)
			}
			fid = f.ID
			folders[it.Folder] = fid
		}
		if err := b.Add(ctx, mailstore.AppendItem{FolderID: fid, Content: bytes.NewReader(it.Data), Flags: it.Flags, InternalDate: it.Date}); err != nil {
			t.Fatal(err)
		}
		if b.Len() >= 500 {
			flush()
		}
	}
	flush()
	b.Close()
}

// Generated returns generated items.
func Generated(o mailgen.Options) []Item {
	ms := mailgen.Generate(o)
	out := make([]Item, len(ms))
	for i, m := range ms {
		out[i] = Item{Folder: m.Folder, Data: m.Data, Flags: m.Flags, Date: m.Date}
	}
	return out
}

// CorpusItems returns every message of the shared corpus, in folders named
// after the corpus source ("Corpus/<source>"), with maildir flags.
func CorpusItems(t testing.TB) []Item {
	msgs := corpus.Messages(t)
	out := make([]Item, 0, len(msgs))
	base := time.Date(2001, 5, 1, 12, 0, 0, 0, time.UTC)
	for i, m := range msgs {
		src := strings.SplitN(m.Entry.Path, "/", 2)[0]
		out = append(out, Item{Folder: path.Join("Corpus", src), Data: m.Data, Flags: m.Flags, Date: base.Add(time.Duration(i) * time.Minute)})
	}
	return out
}
