package blobstore

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/testsupport/wait"
)

// TestMemBudgetBlocksNinthBuffer: a budget of eight gather buffers hands
// out eight; the ninth waits until one is given back.
func TestMemBudgetBlocksNinthBuffer(t *testing.T) {
	const bufCap = 1 << 10
	m := newMemBudget(8*bufCap, bufCap, 0)
	var held [][]byte
	for range 8 {
		b, err := m.getBuf(context.Background(), true)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, b)
	}
	got := make(chan []byte)
	go func() { b, _ := m.getBuf(context.Background(), true); got <- b }()
	wait.For(t, 10*time.Second, "the ninth buffer to wait for room", func() error {
		if n := m.waiting.Load(); n != 1 {
			return fmt.Errorf("%d waiting", n)
		}
		return nil
	})
	select {
	case <-got:
		t.Fatal("the ninth buffer was handed out while eight were held")
	default:
	}
	m.putBuf(held[0], true)
	b := <-got
	if len(b) != 0 || cap(b) != bufCap {
		t.Fatalf("buffer len %d cap %d, want 0 and %d", len(b), cap(b), bufCap)
	}
}

// TestMemBudgetPartSlots: an S3 budget keeps room for at least one part
// and two gather buffers, whatever the configured size.
func TestMemBudgetPartSlots(t *testing.T) {
	m := newMemBudget(1, 10<<20, 8<<20)
	if !m.gather.TryAcquire(2 * 10 << 20) {
		t.Fatal("no room for two gather buffers")
	}
	if !m.parts.TryAcquire(1) || m.parts.TryAcquire(1) {
		t.Fatal("want exactly one part slot")
	}
}

// TestAppendPackIndexInPlace: a gather buffer with room takes the pack
// object's index without a copy.
func TestAppendPackIndexInPlace(t *testing.T) {
	buf := make([]byte, headerSize+3, headerSize+3+indexEntrySize+trailerSize)
	putHeader(buf[:headerSize], 3, make([]byte, 32))
	body := appendPackIndex(buf, []int{0})
	if &body[0] != &buf[0] {
		t.Fatal("the index was appended to a copy")
	}
	entries, ok := ParsePackIndex(body)
	if !ok || len(entries) != 1 || entries[0].Offset != headerSize || entries[0].Size != 3 {
		t.Fatalf("index %+v ok %v", entries, ok)
	}
}

// TestReadAppend: a buffer with room is filled in place; a small one grows;
// neither reads past the limit.
func TestReadAppend(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 10_000)
	for _, capacity := range []int{0, 10, 200_000} {
		buf := make([]byte, 3, 3+capacity)
		out, n, err := readAppend(buf, bytes.NewReader(data), 50_001)
		if err != nil || n != 50_001 || !bytes.Equal(out[3:], data[:50_001]) {
			t.Fatalf("cap %d: n %d err %v", capacity, n, err)
		}
		if capacity == 200_000 && &out[0] != &buf[0] {
			t.Fatalf("a buffer with room was reallocated")
		}
		out, n, err = readAppend(buf, bytes.NewReader(data[:7]), 50_001)
		if err != nil || n != 7 || !bytes.Equal(out[3:], data[:7]) {
			t.Fatalf("cap %d, short: n %d err %v", capacity, n, err)
		}
	}
}
