package blobstore

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// DefaultMemoryBudget is Options.MemoryBudget's default: the bytes every
// write batch of a node holds at once in gather buffers (small records on
// their way to the shared pack file or into an S3 pack object, including
// pack objects being uploaded) and in the parts of large S3 items.
const DefaultMemoryBudget = 16 << 20

// memBudget bounds, node-wide, the memory budgeted write batches
// (NewBudgetedBatch: one or two per running sync pass) hold for bytes in
// flight, so many concurrent batches share a fixed total instead of each
// holding its own buffers. Other batches take the same fixed-size, reused
// buffers without waiting.
//
// Deadlock freedom: a batch asks for a gather buffer only when it holds
// none (its earlier buffers are being uploaded, which ends on its own),
// and a large S3 item takes a part slot, a separate bound, whose holders
// never wait for a gather buffer.
type memBudget struct {
	gather  *semaphore.Weighted // bytes of gather buffers
	parts   *semaphore.Weighted // large S3 items streaming (one part in memory each)
	bufCap  int                 // capacity of one gather buffer
	partMem int64               // memory of one part slot
	bufs    sync.Pool           // idle gather buffers, reused
	waiting atomic.Int64        // getBuf calls waiting for room (observed by tests)
}

// newMemBudget divides budget between part slots (S3 only: at least one,
// at most a quarter of the budget's parts) and gather buffers of bufCap
// bytes (at least two, so one can fill while another uploads).
func newMemBudget(budget int64, bufCap int, partSize int64) *memBudget {
	if budget <= 0 {
		budget = DefaultMemoryBudget
	}
	m := &memBudget{bufCap: bufCap, partMem: partSize}
	slots := int64(0)
	if partSize > 0 {
		slots = max(1, budget/partSize/4)
		budget -= slots * partSize
	}
	m.gather = semaphore.NewWeighted(max(budget, 2*int64(bufCap)))
	m.parts = semaphore.NewWeighted(max(slots, 1))
	return m
}

// getBuf returns an empty gather buffer. In budget, it has capacity
// bufCap and getBuf first waits until the budget has room for it, or ctx
// ends (a stopped or handed-over pass: the error wraps ctx's cause); out
// of budget it is small and grows with what it gathers (readAppend), as a
// client-paced write of a few KiB should not hold bufCap bytes.
func (m *memBudget) getBuf(ctx context.Context, inBudget bool) ([]byte, error) {
	if !inBudget {
		return make([]byte, 0, unbudgetedBuf), nil
	}
	if !m.gather.TryAcquire(int64(m.bufCap)) {
		m.waiting.Add(1)
		err := m.gather.Acquire(ctx, int64(m.bufCap))
		m.waiting.Add(-1)
		if err != nil {
			return nil, fmt.Errorf("blobstore: waiting for blob memory: %w", context.Cause(ctx))
		}
	}
	if b, ok := m.bufs.Get().(*[]byte); ok {
		return (*b)[:0], nil
	}
	return make([]byte, 0, m.bufCap), nil
}

// unbudgetedBuf is the initial capacity of a gather buffer out of budget.
const unbudgetedBuf = 32 << 10

// putBuf gives a gather buffer from getBuf back (to the budget when it
// was taken in budget).
func (m *memBudget) putBuf(b []byte, inBudget bool) {
	if cap(b) == m.bufCap {
		b = b[:0]
		m.bufs.Put(&b)
	}
	if inBudget {
		m.gather.Release(int64(m.bufCap))
	}
}

// acquirePart waits for a part slot of a large S3 item, or until ctx
// ends (the error wraps ctx's cause).
func (m *memBudget) acquirePart(ctx context.Context) error {
	if err := m.parts.Acquire(ctx, 1); err != nil {
		return fmt.Errorf("blobstore: waiting for a part slot: %w", context.Cause(ctx))
	}
	return nil
}

// releasePart gives a part slot back.
func (m *memBudget) releasePart() { m.parts.Release(1) }

// readAppend reads from r into buf until EOF or limit bytes, and returns
// buf extended by what was read and its count. A buffer with room for
// limit more bytes (a budgeted one) is never reallocated; a smaller one
// grows as needed.
func readAppend(buf []byte, r io.Reader, limit int) ([]byte, int, error) {
	start := len(buf)
	for len(buf)-start < limit {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(limit-(len(buf)-start), max(cap(buf), 4096)))
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), start+limit)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return buf, len(buf) - start, err
		}
	}
	return buf, len(buf) - start, nil
}
