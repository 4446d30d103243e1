// Package corpus gives tests the shared email corpus (../shared/corpus
// relative to the repository root, or $TENANTFERRY_CORPUS): its manifest
// and every message in it, split the way the importer splits (mbox files by
// importer.MboxReader, maildir files whole with their flags).
//
// Invariant: Messages returns each message's bytes exactly as stored in the
// corpus files (no line-ending or other normalisation), so a round trip is
// checked by comparing SHA-256 sums.
package corpus

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/mailstore/importer"
)

// Env names the environment variable that may point at the corpus.
const Env = "TENANTFERRY_CORPUS"

// Entry is one row of MANIFEST.tsv.
type Entry struct {
	Path       string   // relative to the corpus directory, '/'-separated
	Categories []string // category tags
	Messages   int      // messages in the file (0 for bookkeeping files)
	Size       int64    // file size in bytes
	SHA256     string   // hex SHA-256 of the file
}

// Has reports whether the entry carries a category tag.
func (e Entry) Has(tag string) bool {
	for _, c := range e.Categories {
		if c == tag {
			return true
		}
	}
	return false
}

// Kind says how an entry's file holds messages.
func (e Entry) Kind() string {
	switch {
	case e.Has("maildir-metadata"):
		return "metadata"
	case e.Has("mbox"):
		return "mbox"
	case e.Has("maildir"):
		return "maildir"
	}
	return "file"
}

// Message is one message of the corpus.
type Message struct {
	// Name is the entry path, plus "#n" (from 1) for the n-th message of
	// an mbox file.
	Name string
	// Entry is the manifest row of the file holding the message.
	Entry Entry
	// Data are the message bytes.
	Data []byte
	// Flags are the maildir flags from the file name (maildir files only).
	Flags []string
}

// SHA256 returns the hex SHA-256 of the message bytes.
func (m Message) SHA256() string {
	s := sha256.Sum256(m.Data)
	return hex.EncodeToString(s[:])
}

// Find returns the corpus directory: $TENANTFERRY_CORPUS, or ../shared/corpus
// next to the repository root (found by walking up to go.mod).
func Find() (string, bool) {
	if d := os.Getenv(Env); d != "" {
		if _, err := os.Stat(filepath.Join(d, "MANIFEST.tsv")); err == nil {
			return d, true
		}
		return "", false
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			c := filepath.Join(d, "..", "shared", "corpus")
			if _, err := os.Stat(filepath.Join(c, "MANIFEST.tsv")); err == nil {
				return filepath.Clean(c), true
			}
			return "", false
		}
		if filepath.Dir(d) == d {
			return "", false
		}
	}
}

// Dir returns the corpus directory or skips the test.
func Dir(t testing.TB) string {
	t.Helper()
	d, ok := Find()
	if !ok {
		t.Skipf("email corpus not found: put it at ../shared/corpus next to the repository or set %s", Env)
	}
	return d
}

// Manifest reads MANIFEST.tsv of the corpus in dir.
func Manifest(dir string) ([]Entry, error) {
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	header := true
	for sc.Scan() {
		if header {
			header = false
			continue
		}
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 9 {
			return nil, fmt.Errorf("MANIFEST.tsv: short line %q", sc.Text())
		}
		n, err1 := strconv.Atoi(cols[6])
		size, err2 := strconv.ParseInt(cols[7], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("MANIFEST.tsv: bad numbers in %q", sc.Text())
		}
		out = append(out, Entry{Path: cols[0], Categories: strings.Split(cols[5], ","), Messages: n, Size: size, SHA256: cols[8]})
	}
	return out, sc.Err()
}

// Load returns every message of the corpus in dir, in manifest order.
// Maildir bookkeeping files are skipped. It checks each file's SHA-256 and
// message count against the manifest.
func Load(dir string) ([]Message, error) {
	entries, err := Manifest(dir)
	if err != nil {
		return nil, err
	}
	keywords := map[string][]string{}
	var out []Message
	for _, e := range entries {
		if e.Kind() == "metadata" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(e.Path)))
		if err != nil {
			return nil, err
		}
		if s := sha256.Sum256(data); hex.EncodeToString(s[:]) != e.SHA256 {
			return nil, fmt.Errorf("%s: content does not match the manifest (line endings converted by a checkout?)", e.Path)
		}
		switch e.Kind() {
		case "mbox":
			msgs := importer.SplitMbox(data)
			if len(msgs) != e.Messages {
				return nil, fmt.Errorf("%s: split into %d messages, manifest says %d", e.Path, len(msgs), e.Messages)
			}
			for i, m := range msgs {
				out = append(out, Message{Name: fmt.Sprintf("%s#%d", e.Path, i+1), Entry: e, Data: m.Data})
			}
		case "maildir":
			folder := path.Dir(path.Dir(e.Path)) // the folder holding cur/ and new/
			kw, ok := keywords[folder]
			if !ok {
				kw, err = importer.ReadKeywords(filepath.Join(dir, filepath.FromSlash(folder)))
				if err != nil {
					return nil, err
				}
				keywords[folder] = kw
			}
			out = append(out, Message{Name: e.Path, Entry: e, Data: data, Flags: importer.MaildirFlags(path.Base(e.Path), kw)})
		default:
			out = append(out, Message{Name: e.Path, Entry: e, Data: data})
		}
	}
	return out, nil
}

// Messages returns every corpus message, skipping the test when the corpus
// is absent and failing it when the corpus cannot be read.
func Messages(t testing.TB) []Message {
	t.Helper()
	msgs, err := Load(Dir(t))
	if err != nil {
		t.Fatalf("load corpus: %v", err)
	}
	return msgs
}

// MaildirRoots returns the maildir roots (directories holding cur/ or new/)
// of the corpus entries tagged maildir, corpus-relative and sorted.
func MaildirRoots(entries []Entry) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range entries {
		if e.Kind() != "maildir" {
			continue
		}
		root := path.Dir(path.Dir(e.Path))
		if !seen[root] {
			seen[root] = true
			out = append(out, root)
		}
	}
	return out
}
