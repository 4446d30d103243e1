package delivery_test

import (
	"testing"

	"github.com/tenantferry/tenantferry/internal/delivery"
)

// TestHopCountRules pins the hop count's rules of the one header scanner
// (message.HeaderOptions) where they differ from the store's index rules:
// a lone CR does not end a line (the field behind it is not a field), and
// blanks before a field's colon are allowed, however many (the former
// scanner saw only a line's first 16 bytes). Streamed in any chunks, the
// count is the same, a last field without a line end included.
func TestHopCountRules(t *testing.T) {
	for _, c := range []struct {
		msg  string
		want int
	}{
		{"Received: a\rReceived: b\r\n\r\n", 1},
		{"Received           : a\r\nReceived:b\r\n\r\nReceived: body\r\n", 2},
		{"received\t:a\nX: y\nReceived: c", 2},
		{"Subject: x\r\n Received: folded\r\n\r\n", 0},
	} {
		for _, n := range []int{1, 3, 4096} {
			if got := delivery.CountReceivedChunked([]byte(c.msg), n); got != c.want {
				t.Errorf("%q in chunks of %d: %d hops, want %d", c.msg, n, got, c.want)
			}
		}
	}
}
