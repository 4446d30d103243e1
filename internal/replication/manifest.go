package replication

import (
	"context"
	"strings"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// BuildManifest summarises a mailbox per folder. With byOrigin, folders are
// named by their origin (the target side of a move) and only folders with
// an origin are listed. detail names a folder whose item hashes are listed.
func BuildManifest(ctx context.Context, st *mailstore.Store, mailboxID int64, detail string, byOrigin bool) (*ManifestReply, error) {
	return buildManifest(ctx, st, mailboxID, detail, byOrigin, "")
}

// BuildOriginManifest summarises, per folder named by its origin, only the
// items of a mailbox whose origin starts with prefix: the target side of a
// move into a live mailbox (IMAP), where local mail sits next to the
// copied items and is no part of the comparison.
func BuildOriginManifest(ctx context.Context, st *mailstore.Store, mailboxID int64, prefix string) (*ManifestReply, error) {
	return buildManifest(ctx, st, mailboxID, "", true, prefix)
}

func buildManifest(ctx context.Context, st *mailstore.Store, mailboxID int64, detail string, byOrigin bool, prefix string) (*ManifestReply, error) {
	high, err := st.HighestModSeq(ctx, mailboxID)
	if err != nil {
		return nil, err
	}
	fs, err := st.ListFolders(ctx, mailboxID, false)
	if err != nil {
		return nil, err
	}
	byFolder := map[int64][]string{}
	sizes := map[int64]int64{}
	after := mailstore.Cursor{}
	for {
		cs, next, err := st.ItemChanges(ctx, mailboxID, after, high, 5000)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			if prefix != "" && !strings.HasPrefix(c.Origin, prefix) {
				continue
			}
			byFolder[c.FolderID] = append(byFolder[c.FolderID], c.SHA256)
			sizes[c.FolderID] += c.Size
		}
		if len(cs) < 5000 {
			break
		}
		after = next
	}
	out := &ManifestReply{HighestModSeq: high, Folders: []FolderManifest{}}
	for _, f := range fs {
		name := f.StableID
		if byOrigin {
			if f.Origin == "" {
				if len(byFolder[f.ID]) == 0 {
					continue
				}
				name = "local:" + f.StableID
			} else {
				name = f.Origin
			}
		}
		hs := byFolder[f.ID]
		fm := FolderManifest{Folder: name, Path: f.Path, Count: int64(len(hs)), Bytes: sizes[f.ID], Digest: Digest(hs)}
		if detail != "" && detail == name {
			fm.Hashes = hs
		}
		out.Folders = append(out.Folders, fm)
	}
	return out, nil
}
