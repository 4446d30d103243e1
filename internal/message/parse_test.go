package message_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"

	. "github.com/tenantferry/tenantferry/internal/message"
	"github.com/tenantferry/tenantferry/internal/testsupport/corpus"
)

const sample = "From: a@example.test\r\nSubject: hi\r\n there\r\nContent-Type: multipart/mixed; boundary=\"xx\"\r\n\r\n" +
	"preamble\r\n--xx\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nline 1\r\nline 2\r\n--xx\r\n" +
	"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\n--xx--\r\nepilogue\r\n"

// TestParseSample checks the offsets, fields and types of a small message
// against positions computed from its text.
func TestParseSample(t *testing.T) {
	root := ParseBytes([]byte(sample))
	at := func(s string) int64 { return int64(bytes.Index([]byte(sample), []byte(s))) }
	if !root.Multipart() || root.Subtype != "mixed" || root.Params["boundary"] != "xx" || len(root.Parts) != 2 {
		t.Fatalf("root %+v", root)
	}
	if root.Get("subject") != "hi there" || root.BodyStart != at("preamble") || root.End != int64(len(sample)) {
		t.Fatalf("root header: %q %d %d", root.Get("subject"), root.BodyStart, root.End)
	}
	if f := root.Fields[1]; sample[f.Start:f.End] != "Subject: hi\r\n there\r\n" {
		t.Fatalf("field range %q", sample[f.Start:f.End])
	}
	p1 := root.Parts[0]
	if p1.Start != at("Content-Type: text/plain") || sample[p1.BodyStart:p1.End] != "line 1\r\nline 2" || p1.Lines != 1 || p1.Params["charset"] != "utf-8" {
		t.Fatalf("part 1: %q lines %d", sample[p1.BodyStart:p1.End], p1.Lines)
	}
	p2 := root.Parts[1]
	if p2.Message == nil || p2.Message.Get("Subject") != "inner" || sample[p2.Message.BodyStart:p2.Message.End] != "inner body" {
		t.Fatalf("part 2: %+v", p2)
	}
	if root.Find([]int{2, 1}) != p2.Message || root.Find([]int{1}) != p1 || root.Find([]int{3}) != nil {
		t.Fatal("Find")
	}
}

// TestParseWindowsCorpus parses every corpus message with the default
// window and with windows small enough that every scan crosses window
// edges: the trees are the same.
func TestParseWindowsCorpus(t *testing.T) {
	msgs := corpus.Messages(t)
	for _, m := range msgs {
		want := ParseBytes(m.Data)
		checkBounds(t, m.Data, want)
		for _, w := range []int64{5, 61, 4096} {
			got, err := ParseWindow(bytes.NewReader(m.Data), int64(len(m.Data)), w)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: window %d gives another tree", m.Name, w)
			}
		}
	}
	t.Logf("%d corpus messages", len(msgs))
}

// checkBounds checks that a part's ranges nest and lie in the message and
// that Lines counts the body's line feeds.
func checkBounds(t *testing.T, raw []byte, p *Part) {
	t.Helper()
	if !(p.Start <= p.HeaderEnd && p.HeaderEnd <= p.BodyStart && p.BodyStart <= p.End && p.End <= int64(len(raw))) {
		t.Fatalf("bad ranges %d %d %d %d of %d", p.Start, p.HeaderEnd, p.BodyStart, p.End, len(raw))
	}
	if !p.Multipart() {
		if n := int64(bytes.Count(raw[p.BodyStart:p.End], []byte("\n"))); n != p.Lines {
			t.Fatalf("lines %d, counted %d", p.Lines, n)
		}
	}
	for _, f := range p.Fields {
		if f.Start < p.Start || f.End > p.HeaderEnd+2 || f.Start >= f.End {
			t.Fatalf("field %q range %d-%d outside header %d-%d", f.Name, f.Start, f.End, p.Start, p.HeaderEnd)
		}
	}
	for _, c := range p.Parts {
		if c.Start < p.BodyStart || c.End > p.End {
			t.Fatal("part outside its parent's body")
		}
		checkBounds(t, raw, c)
	}
	if p.Message != nil {
		checkBounds(t, raw, p.Message)
	}
}

// failingReader fails every read at or after off.
type failingReader struct {
	b   []byte
	off int64
}

var errBroken = errors.New("broken disk")

func (r failingReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > r.off {
		return 0, errBroken
	}
	return copy(p, r.b[off:]), nil
}

// TestParseReadError: a read error of the reader is returned.
func TestParseReadError(t *testing.T) {
	raw := []byte(sample)
	if _, err := ParseWindow(failingReader{raw, 40}, int64(len(raw)), 16); !errors.Is(err, errBroken) {
		t.Fatalf("err %v", err)
	}
	if _, err := ParseWindow(io.NewSectionReader(bytes.NewReader(raw), 0, 10), int64(len(raw)), 16); err == nil {
		t.Fatal("a short reader gave no error")
	}
}

// FuzzParse parses arbitrary bytes with several windows: the trees agree,
// the ranges nest and nothing panics.
func FuzzParse(f *testing.F) {
	for _, s := range []string{sample, "", "\r", "\n\n", "a:b\r\r\r", "Content-Type: message/rfc822\n\nContent-Type: message/rfc822\n\n",
		"Content-Type: multipart/x; boundary=\"\"\n\n--\n--\n", "Content-Type: multipart/x;boundary=a\n\n--a\n--a\n--a--\n--a\n",
		"Content-Type: multipart/x;boundary=a\r\n\r\n--a  \r\n\r\nx\r\n--ab\r\n--a--"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		want := ParseBytes(raw)
		checkBounds(t, raw, want)
		for _, w := range []int64{1, 3, 7} {
			got, err := ParseWindow(bytes.NewReader(raw), int64(len(raw)), w)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("window %d: another tree (%v)", w, err)
			}
		}
	})
}

// TestEncodeCorpus: every corpus message's tree survives Encode/Decode.
func TestEncodeCorpus(t *testing.T) {
	for _, m := range corpus.Messages(t) {
		p := ParseBytes(m.Data)
		b, err := Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b)
		if err != nil || !reflect.DeepEqual(got, p) {
			t.Fatalf("%s: decoded tree differs (%v)", m.Name, err)
		}
	}
	if _, err := Decode([]byte("{")); err == nil {
		t.Fatal("a broken tree decoded")
	}
}

// buildChunks feeds raw to a Builder in writes of the given sizes (cycled).
func buildChunks(raw []byte, sizes []int) *Part {
	b := NewBuilder()
	for i, k := 0, 0; i < len(raw); k++ {
		n := 1
		if len(sizes) > 0 {
			n = max(1, sizes[k%len(sizes)])
		}
		n = min(n, len(raw)-i)
		b.Write(raw[i : i+n])
		i += n
	}
	return b.Tree()
}

// TestBuilderCorpus: the tree built while every corpus message is written
// (in one write, byte by byte, and in odd chunks) is the tree Parse gives.
func TestBuilderCorpus(t *testing.T) {
	for _, m := range corpus.Messages(t) {
		want := ParseBytes(m.Data)
		for _, sizes := range [][]int{{len(m.Data)}, {1}, {7, 3, 64, 1}, {4096}} {
			if got := buildChunks(m.Data, sizes); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: writes of %v build another tree", m.Name, sizes)
			}
		}
	}
}

// TestBuilderLimits: the part and depth caps and a line longer than any
// line the builder keeps give Parse's tree.
func TestBuilderLimits(t *testing.T) {
	var many bytes.Buffer
	many.WriteString("Content-Type: multipart/mixed; boundary=b\r\n\r\n")
	for i := 0; i < MaxParts+10; i++ {
		many.WriteString("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n")
	}
	many.WriteString("--b--\r\n")
	var deep bytes.Buffer
	for i := 0; i < MaxDepth+3; i++ {
		deep.WriteString("Content-Type: message/rfc822\r\n\r\n")
	}
	long := "Subject: " + string(bytes.Repeat([]byte("y"), 3<<20)) + "\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b" +
		string(bytes.Repeat([]byte(" "), 2<<20)) + "\r\n--b\r\n\r\nz\r\n"
	for _, raw := range [][]byte{many.Bytes(), deep.Bytes(), []byte(long)} {
		want := ParseBytes(raw)
		for _, sizes := range [][]int{{len(raw)}, {1 << 16, 13}} {
			if got := buildChunks(raw, sizes); !reflect.DeepEqual(got, want) {
				t.Fatalf("%.40q...: writes of %v build another tree", raw, sizes)
			}
		}
	}
}

// FuzzBuilder writes arbitrary bytes to a Builder in arbitrary chunks:
// the tree is the one Parse gives.
func FuzzBuilder(f *testing.F) {
	for _, s := range []string{sample, "", "\r", "\n\n", "a:b\r\r\r", "Content-Type: message/rfc822\n\nContent-Type: message/rfc822\n\n",
		"Content-Type: multipart/x; boundary=\"\"\n\n--\n--\n", "Content-Type: multipart/x;boundary=a\n\n--a\n--a\n--a--\n--a\n",
		"Content-Type: multipart/x;boundary=a\r\n\r\n--a  \r\n\r\nx\r\n--ab\r\n--a--",
		"Content-Type: multipart/x;boundary=a\n\n--a\nContent-Type: multipart/y;boundary=a\n\n--a\n\n--a--\n",
		"Content-Type: multipart/digest;boundary=a\n\n--a\n\n--a\nA: b\n c\n\n--a--\nx"} {
		f.Add([]byte(s), uint64(1))
	}
	f.Fuzz(func(t *testing.T, raw []byte, seed uint64) {
		want := ParseBytes(raw)
		sizes := []int{int(seed%7) + 1, int(seed>>3%13) + 1, int(seed>>7%5) + 1}
		for _, s := range [][]int{{len(raw)}, {1}, sizes} {
			if got := buildChunks(raw, s); !reflect.DeepEqual(got, want) {
				t.Fatalf("writes of %v: another tree\n got %s\nwant %s", s, dump(got), dump(want))
			}
		}
	})
}

// dump prints a tree for a failure message.
func dump(p *Part) string {
	if p == nil {
		return "nil"
	}
	s := fmt.Sprintf("{%d %d %d %d %s/%s L%d F%v", p.Start, p.HeaderEnd, p.BodyStart, p.End, p.Type, p.Subtype, p.Lines, p.Fields)
	for _, c := range p.Parts {
		s += " " + dump(c)
	}
	if p.Message != nil {
		s += " M" + dump(p.Message)
	}
	return s + "}"
}

// BenchmarkBuilder measures the cost the append path pays per byte of a
// large message: a multipart with a base64 attachment of 76-column lines
// written in 32 KiB chunks.
func BenchmarkBuilder(b *testing.B) {
	var m bytes.Buffer
	m.WriteString("Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\ntext\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	for m.Len() < 16<<20 {
		m.WriteString("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n")
	}
	m.WriteString("--b--\r\n")
	raw := m.Bytes()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		buildChunks(raw, []int{32 << 10})
	}
}
