// Package mailgen generates realistic, deterministic mailboxes: folder
// trees, threads, attachments, flags and dates. The demo, the benchmark and
// the tests use it.
//
// Invariant: the same seed and sizes always give the same bytes.
package mailgen

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand"
	"strings"
	"time"
)

// Message is one generated message.
type Message struct {
	Folder string // folder path
	Data   []byte
	Flags  []string
	Date   time.Time
}

// Options shape a generated mailbox.
type Options struct {
	Seed     int64
	Count    int     // number of messages
	Owner    string  // the mailbox's address
	Median   int     // median body size in bytes (default 8 KiB)
	Attach   float64 // share of messages with an attachment (default 0.05)
	AttachKB int     // attachment size in KiB (default 200)
	Folders  []string
	// Threads links replies into conversations: a "Re:" message gets
	// In-Reply-To and References naming earlier messages on its topic.
	// Off by default, so existing seeds keep their bytes.
	Threads bool
}

// DefaultFolders is a typical folder tree.
var DefaultFolders = []string{"Inbox", "Inbox", "Inbox", "Inbox", "Sent Items", "Sent Items", "Archive", "Projects/Alpha", "Projects/Beta",
	"Projects/Beta/Reports", "Customers", "Deleted Items", "Drafts"}

var (
	firstNames = []string{"Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Ken", "Margaret", "Linus", "Radia", "Leslie", "Frances"}
	lastNames  = []string{"Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Thompson", "Hamilton", "Torvalds", "Perlman", "Lamport", "Allen"}
	topics     = []string{"quarterly report", "project kickoff", "budget review", "offsite planning", "customer escalation", "release notes",
		"hiring update", "security review", "migration wave", "invoice", "contract renewal", "team lunch", "roadmap", "status update"}
	words = strings.Fields(`the of and to in is that for it as with was on be by this are from at or an have not which but were all
		we when your can said there use each do how their if will up other about out many then them these so some her would make like
		him into time has look two more write go see number no way could people my than first water been call who oil its now find
		long down day did get come made may part meeting schedule report forecast customer server mailbox tenant migration please
		review attached thanks regards update agenda notes action items deadline`)
)

// Generator produces the messages of Options one at a time, so a mailbox
// of any size is generated in constant memory.
type Generator struct {
	o    Options
	r    *rand.Rand
	base time.Time
	i    int
	// thread holds, per topic, the Message-IDs of the conversation so far
	// (the most recent last; Options.Threads only).
	thread map[string][]string
}

// New returns a generator.
func New(o Options) *Generator {
	if o.Median <= 0 {
		o.Median = 8 << 10
	}
	if o.Attach == 0 {
		o.Attach = 0.05
	}
	if o.AttachKB <= 0 {
		o.AttachKB = 200
	}
	if len(o.Folders) == 0 {
		o.Folders = DefaultFolders
	}
	if o.Owner == "" {
		o.Owner = "user@example.test"
	}
	return &Generator{o: o, r: rand.New(rand.NewSource(o.Seed)), base: time.Date(2024, 1, 1, 8, 0, 0, 0, time.UTC), thread: map[string][]string{}}
}

// Next returns the next message; ok is false after Options.Count messages.
func (g *Generator) Next() (m Message, ok bool) {
	if g.i >= g.o.Count {
		return Message{}, false
	}
	o, r, i := g.o, g.r, g.i
	g.i++
	folder := o.Folders[r.Intn(len(o.Folders))]
	date := g.base.Add(time.Duration(i)*37*time.Minute + time.Duration(r.Intn(3600))*time.Second)
	from := person(r)
	to := o.Owner
	if folder == "Sent Items" || folder == "Drafts" {
		from, to = o.Owner, person(r)
	}
	topic := topics[r.Intn(len(topics))]
	subject := topic
	if r.Intn(3) == 0 {
		subject = "Re: " + subject
	}
	msgID := fmt.Sprintf("<%d.%d@gen.tenantferry.test>", o.Seed, i)
	// Log-normal-ish body sizes around the median.
	size := int(float64(o.Median) * (0.3 + r.ExpFloat64()*0.7))
	var b bytes.Buffer
	boundary := fmt.Sprintf("b%08x", r.Uint32())
	attach := r.Float64() < o.Attach
	fmt.Fprintf(&b, "Return-Path: <%s>\r\nMessage-ID: %s\r\nDate: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: %s\r\nMIME-Version: 1.0\r\n",
		addr(from), msgID, date.Format(time.RFC1123Z), from, to, subject)
	if o.Threads {
		g.threadHeaders(&b, topic, msgID, subject != topic)
	}
	if attach {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=%q\r\n\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", boundary, boundary)
	} else {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n")
	}
	text(r, &b, size)
	if attach {
		blob := make([]byte, o.AttachKB<<10)
		r.Read(blob)
		fmt.Fprintf(&b, "\r\n--%s\r\nContent-Type: application/pdf; name=\"doc%d.pdf\"\r\nContent-Disposition: attachment; filename=\"doc%d.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
			boundary, i, i)
		enc := base64.StdEncoding.EncodeToString(blob)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n--" + boundary + "--\r\n")
	}
	var flags []string
	if folder != "Inbox" || r.Intn(4) != 0 {
		flags = append(flags, `\Seen`)
	}
	if r.Intn(12) == 0 {
		flags = append(flags, `\Flagged`)
	}
	if r.Intn(10) == 0 {
		flags = append(flags, `\Answered`)
	}
	if r.Intn(25) == 0 {
		flags = append(flags, "$Label1")
	}
	if folder == "Drafts" {
		flags = append(flags, `\Draft`)
	}
	return Message{Folder: folder, Data: b.Bytes(), Flags: flags, Date: date}, true
}

// threadHeaders writes In-Reply-To and References for a reply and records
// msgID as the newest message of the topic's conversation.
func (g *Generator) threadHeaders(b *bytes.Buffer, topic, msgID string, reply bool) {
	conv := g.thread[topic]
	if reply && len(conv) > 0 {
		fmt.Fprintf(b, "In-Reply-To: %s\r\nReferences: %s\r\n", conv[len(conv)-1], strings.Join(conv, " "))
	} else if !reply {
		conv = nil // a new conversation on the topic
	}
	conv = append(conv, msgID)
	if len(conv) > 8 {
		conv = append([]string{conv[0]}, conv[len(conv)-7:]...) // keep the root and the latest
	}
	g.thread[topic] = conv
}

// Generate returns all opts.Count messages at once (small mailboxes).
func Generate(o Options) []Message {
	g := New(o)
	out := make([]Message, 0, o.Count)
	for m, ok := g.Next(); ok; m, ok = g.Next() {
		out = append(out, m)
	}
	return out
}

func person(r *rand.Rand) string {
	f, l := firstNames[r.Intn(len(firstNames))], lastNames[r.Intn(len(lastNames))]
	return fmt.Sprintf("%s %s <%s.%s@partner.example>", f, l, strings.ToLower(f), strings.ToLower(l))
}

func addr(p string) string { return p[strings.IndexByte(p, '<')+1 : len(p)-1] }

func text(r *rand.Rand, b *bytes.Buffer, size int) {
	line := 0
	for n := 0; n < size; {
		w := words[r.Intn(len(words))]
		if line+len(w) > 72 {
			b.WriteString("\r\n")
			n += 2
			line = 0
		}
		b.WriteString(w)
		b.WriteByte(' ')
		n += len(w) + 1
		line += len(w) + 1
	}
	b.WriteString("\r\n")
}
