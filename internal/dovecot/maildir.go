package dovecot

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// MaildirMessage is one message to write into a Maildir.
type MaildirMessage struct {
	Folder string // "INBOX" or a '/'-separated path
	Data   []byte
	Flags  []string // IMAP system flags and keywords
	Date   time.Time
}

// maildirLetters are the info-suffix letters of the IMAP system flags.
var maildirLetters = map[string]byte{`\Draft`: 'D', `\Flagged`: 'F', `\Answered`: 'R', `\Seen`: 'S', `\Deleted`: 'T'}

// WriteMaildir writes messages into a Maildir++ tree the way Dovecot keeps
// one: INBOX at the root, folder "A/B" in ".A.B", system flags in the info
// suffix, keywords as letters indexing the folder's dovecot-keywords file
// (at most 26 per folder), the internal date as the file's mtime.
func WriteMaildir(root string, msgs []MaildirMessage) error {
	keywords := map[string][]string{} // folder dir → keywords by index
	if err := mkMaildir(root); err != nil {
		return err
	}
	for i, m := range msgs {
		dir := root
		if m.Folder != "INBOX" {
			dir = filepath.Join(root, "."+strings.ReplaceAll(m.Folder, "/", "."))
		}
		if _, ok := keywords[dir]; !ok {
			keywords[dir] = []string{}
			if err := mkMaildir(dir); err != nil {
				return err
			}
			if dir != root {
				if err := os.WriteFile(filepath.Join(dir, "maildirfolder"), nil, 0o644); err != nil {
					return err
				}
			}
		}
		var info []byte
		for _, f := range m.Flags {
			if c, ok := maildirLetters[f]; ok {
				info = append(info, c)
				continue
			}
			idx := -1
			for k, kw := range keywords[dir] {
				if kw == f {
					idx = k
				}
			}
			if idx < 0 {
				idx = len(keywords[dir])
				if idx >= 26 {
					return fmt.Errorf("maildir folder %s: more than 26 keywords", m.Folder)
				}
				keywords[dir] = append(keywords[dir], f)
			}
			info = append(info, 'a'+byte(idx))
		}
		sort.Slice(info, func(a, b int) bool { return info[a] < info[b] })
		p := filepath.Join(dir, "cur", fmt.Sprintf("%d.M%dP1.tenantferry:2,%s", m.Date.Unix(), i, info))
		if err := os.WriteFile(p, m.Data, 0o644); err != nil {
			return err
		}
		if err := os.Chtimes(p, m.Date, m.Date); err != nil {
			return err
		}
	}
	for dir, kws := range keywords {
		var b strings.Builder
		for k, kw := range kws {
			fmt.Fprintf(&b, "%d %s\n", k, kw)
		}
		if err := os.WriteFile(filepath.Join(dir, "dovecot-keywords"), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func mkMaildir(dir string) error {
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
	}
	return nil
}
