package replication

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	for _, c := range []Cursor{{}, {1, 2}, {1 << 40, 7}} {
		got, err := ParseCursor(c.String())
		if err != nil || got != c {
			t.Fatalf("%v: got %v, %v", c, got, err)
		}
	}
	for _, bad := range []string{"x", "1", "1.", ".1", "-1.2", "1.-2", "1.2.3", "99999999999999999999.1"} {
		if _, err := ParseCursor(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseCursor(f *testing.F) {
	f.Add("12.34")
	f.Add("")
	f.Add("0.0")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCursor(s)
		if err != nil {
			return
		}
		if c.ModSeq < 0 || c.Id < 0 {
			t.Fatalf("negative cursor %v from %q", c, s)
		}
		if again, err := ParseCursor(c.String()); err != nil || again != c {
			t.Fatalf("%q → %v does not round-trip", s, c)
		}
	})
}

// frames encodes items as a content stream.
func frames(items map[int64][]byte, order []int64, gone ...int64) []byte {
	var b bytes.Buffer
	for _, id := range order {
		data, ok := items[id]
		if !ok {
			writeFrameHeader(&b, id, SizeGone, make([]byte, 32))
			continue
		}
		sum := sha256.Sum256(data)
		writeFrameHeader(&b, id, int64(len(data)), sum[:])
		b.Write(data)
	}
	return b.Bytes()
}

func TestContentStream(t *testing.T) {
	items := map[int64][]byte{1: []byte("From: a\r\n\r\nx"), 3: {0, '\r', 'x', '\n'}, 4: {}}
	raw := frames(items, []int64{1, 2, 3, 4})
	s := testStream(bufioReader(raw), "test")
	for _, want := range []int64{1, 2, 3, 4} {
		fr, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		if fr.ID != want {
			t.Fatalf("frame %d, want %d", fr.ID, want)
		}
		if want == 2 {
			if fr.Size != SizeGone {
				t.Fatalf("item 2 size %d", fr.Size)
			}
			continue
		}
		got, _ := io.ReadAll(fr.Body)
		sum := sha256.Sum256(items[want])
		if !bytes.Equal(got, items[want]) || fr.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("item %d: %q %s", want, got, fr.SHA256)
		}
	}
	if _, err := s.Next(); err == nil {
		t.Fatal("read past the end")
	}
	// An unread body is skipped by the next frame.
	s = testStream(bufioReader(raw), "test")
	s.Next()
	if fr, err := s.Next(); err != nil || fr.ID != 2 {
		t.Fatalf("skipping an unread body: %v %v", fr.ID, err)
	}
}

// FuzzContentStream feeds arbitrary bytes to the stream reader: it must
// return frames or a coded error, never panic or loop.
func FuzzContentStream(f *testing.F) {
	f.Add(frames(map[int64][]byte{1: []byte("abc")}, []int64{1, 2}))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := testStream(bufioReader(data), "fuzz")
		for i := 0; i < 64; i++ {
			fr, err := s.Next()
			if err != nil {
				return
			}
			if fr.Size >= 0 {
				io.Copy(io.Discard, fr.Body)
			}
		}
	})
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

// testStream is a native content stream over buffered bytes.
func testStream(br *bufio.Reader, server string) *ContentStream {
	fr := &frameReader{body: io.NopCloser(nil), br: br, server: server}
	return NewContentStream(fr.next, func() error { return nil })
}
