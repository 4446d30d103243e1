// Package freeport chooses loopback ports for listeners that must be named
// before they are bound: a server whose address another server's
// configuration already points at, or a child process's flags.
//
// Invariants:
//   - A returned port was free on 127.0.0.1 when it was chosen (it was
//     bound and released).
//   - It lies below the kernel's ephemeral range
//     (net.ipv4.ip_local_port_range), so neither the local port of an
//     outgoing connection nor a bind to port 0 can take it between the
//     choice and the caller's bind; only another process choosing the same
//     port at random can. (Ports from a bind to port 0 are ephemeral ones
//     and were taken this way under load: a server then failed with
//     "address already in use".)
//   - One process never gets the same port twice.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// lowest is the lowest port chosen (above the registered services a
// test machine may run: PostgreSQL, Dovecot, SeaweedFS's defaults).
const lowest = 20000

var (
	mu     sync.Mutex
	issued = map[int]bool{}
)

// Addr returns "127.0.0.1:PORT" for a free port (see the package doc).
func Addr() (string, error) {
	p, err := Port()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), nil
}

// Port returns a free loopback port (see the package doc).
func Port() (int, error) {
	mu.Lock()
	defer mu.Unlock()
	top := ephemeralLow()
	for try := 0; top-lowest >= 1000 && try < 200; try++ {
		p := lowest + rand.IntN(top-lowest)
		if issued[p] {
			continue
		}
		if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p))); err == nil {
			l.Close()
			issued[p] = true
			return p, nil
		}
	}
	// No room below the ephemeral range (or it is full): an ephemeral
	// port, as free as a bind to port 0 makes it.
	for try := 0; try < 20; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("freeport: %w", err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !issued[p] {
			issued[p] = true
			return p, nil
		}
	}
	return 0, fmt.Errorf("freeport: no free loopback port")
}

// Ports returns n distinct free loopback ports.
func Ports(n int) ([]int, error) {
	out := make([]int, 0, n)
	for len(out) < n {
		p, err := Port()
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// ephemeralLow is the lowest port of the kernel's ephemeral range (32768
// when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return lo
}
