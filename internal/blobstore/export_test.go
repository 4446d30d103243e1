package blobstore

// NewCompactionBatch starts a batch that stages its containers, as a
// compaction's batch does.
func (s *Store) NewCompactionBatch() *Batch {
	b := s.NewBatch()
	b.stage = true
	return b
}

// GatherWaiting returns how many batches wait for room in the store's
// memory budget.
func (s *Store) GatherWaiting() int64 { return s.mem.waiting.Load() }

// GatherBufCap returns the capacity of one gather buffer of the store.
func (s *Store) GatherBufCap() int64 { return int64(s.mem.bufCap) }
