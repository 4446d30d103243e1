package importer

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// maildirInfoSeps are the spellings of the ":2," info separator: the
// standard one, the '!' and ';' some tools use where ':' is not allowed in
// file names, and the percent-encoded form of copies that escaped it.
var maildirInfoSeps = []string{":2,", "!2,", ";2,", "%3A2%2C", "%3a2%2c"}

// MaildirFlags returns the flags encoded in a maildir file name's info
// suffix (":2,<letters>"): S → \Seen, R → \Answered, F → \Flagged,
// T → \Deleted, D → \Draft, P → $Forwarded, and lowercase a-z → the
// keyword with that index in keywords (a dovecot-keywords file). Unknown
// letters are ignored; the result is normalized.
func MaildirFlags(name string, keywords []string) []string {
	info := ""
	for _, sep := range maildirInfoSeps {
		if i := strings.LastIndex(name, sep); i >= 0 {
			info = name[i+len(sep):]
			break
		}
	}
	var flags []string
	for _, c := range info {
		switch {
		case c == 'S':
			flags = append(flags, mailstore.FlagSeen)
		case c == 'R':
			flags = append(flags, mailstore.FlagAnswered)
		case c == 'F':
			flags = append(flags, mailstore.FlagFlagged)
		case c == 'T':
			flags = append(flags, mailstore.FlagDeleted)
		case c == 'D':
			flags = append(flags, mailstore.FlagDraft)
		case c == 'P':
			flags = append(flags, mailstore.FlagForwarded)
		case c >= 'a' && c <= 'z':
			if i := int(c - 'a'); i < len(keywords) && keywords[i] != "" {
				flags = append(flags, keywords[i])
			}
		}
	}
	return mailstore.CleanFlags(flags)
}

// ReadKeywords reads a maildir folder's dovecot-keywords file ("<index>
// <name>" per line) into a slice indexed by keyword number. A missing file
// means no keywords.
func ReadKeywords(dir string) ([]string, error) {
	f, err := os.Open(filepath.Join(dir, "dovecot-keywords"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var kw []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		idx, name, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		n, err := strconv.Atoi(idx)
		if !ok || err != nil || n < 0 || n >= 26 {
			continue
		}
		for len(kw) <= n {
			kw = append(kw, "")
		}
		kw[n] = strings.TrimSpace(name)
	}
	return kw, sc.Err()
}

// IsMaildir reports whether dir looks like a maildir (has cur/ or new/).
func IsMaildir(dir string) bool {
	for _, sub := range []string{"cur", "new"} {
		if st, err := os.Stat(filepath.Join(dir, sub)); err == nil && st.IsDir() {
			return true
		}
	}
	return false
}

// maildirFolder is one folder of a maildir tree.
type maildirFolder struct {
	dir  string // absolute directory
	rel  string // directory relative to the root ("" for the root)
	path string // folder path relative to the import folder ("" for the root)
}

// maildirFolders lists the root and its Maildir++ subfolders (".A.B" →
// "A/B"; empty names are dropped).
func maildirFolders(root string) ([]maildirFolder, error) {
	out := []maildirFolder{{dir: root}}
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		n := e.Name()
		if !e.IsDir() || !strings.HasPrefix(n, ".") || n == "." || n == ".." {
			continue
		}
		var comps []string
		for _, c := range strings.Split(n[1:], ".") {
			if c != "" {
				comps = append(comps, c)
			}
		}
		if len(comps) == 0 {
			continue
		}
		out = append(out, maildirFolder{dir: filepath.Join(root, n), rel: n, path: strings.Join(comps, "/")})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out, nil
}

// maildirFile is one message file of a maildir folder.
type maildirFile struct {
	path string // absolute
	rel  string // relative to the maildir root
	date time.Time
}

// maildirFiles lists the messages in cur/ and new/ (never tmp/), skipping
// dot files and anything that is not a regular file, ordered by delivery
// time then name.
func maildirFiles(f maildirFolder) ([]maildirFile, error) {
	var out []maildirFile
	for _, sub := range []string{"cur", "new"} {
		ents, err := os.ReadDir(filepath.Join(f.dir, sub))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
				continue
			}
			info, err := e.Info()
			if err != nil {
				return nil, err
			}
			out = append(out, maildirFile{
				path: filepath.Join(f.dir, sub, e.Name()),
				rel:  filepath.ToSlash(filepath.Join(f.rel, sub, e.Name())),
				date: maildirDate(e.Name(), info.ModTime()),
			})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].date.Equal(out[j].date) {
			return out[i].date.Before(out[j].date)
		}
		return out[i].rel < out[j].rel
	})
	return out, nil
}

// maildirDate is the delivery time in the file name ("<unix seconds>.…"),
// or the file's mtime when the name has none.
func maildirDate(name string, mtime time.Time) time.Time {
	if i := strings.IndexByte(name, '.'); i > 0 {
		if secs, err := strconv.ParseInt(name[:i], 10, 64); err == nil && secs > 0 && secs < 1<<33 {
			return time.Unix(secs, 0).UTC()
		}
	}
	return mtime
}
