package blobstore

// NewCompactionBatch starts a batch that stages its containers, as a
// compaction's batch does.
func (s *Store) NewCompactionBatch() *Batch {
	b := s.NewBatch()
	b.stage = true
	return b
}
