package delivery

import (
	"bytes"
	"time"
)

// NextRetryAt exposes the retry schedule to tests.
func (s *Service) NextRetryAt(attempt int, expires int64, now time.Time) time.Time {
	return s.nextRetry(attempt, expires, now)
}

// HeaderSection exposes the DSN header reader to tests.
func HeaderSection(b []byte, max int) []byte { return headerSection(bytes.NewReader(b), max) }

// CountReceivedChunked feeds msg to the streaming scanner in chunks of n
// bytes and returns its count.
func CountReceivedChunked(msg []byte, n int) int {
	var h headerScanner
	for len(msg) > 0 {
		k := min(n, len(msg))
		h.Write(msg[:k])
		msg = msg[k:]
	}
	h.end()
	return h.received
}
