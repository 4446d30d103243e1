package ratelimit

import (
	"net"
	"sync"
)

// Listener bounds the open connections of one client address on ln to
// limit (0: Config.ConnsPerIP). A connection over the limit is sent refusal (a
// protocol's "too many connections" line; nil sends nothing, as on a TLS
// port) and closed, and counted and logged under proto. A nil guard
// returns ln.
func (g *Guard) Listener(ln net.Listener, proto string, limit int, refusal []byte) net.Listener {
	if g == nil || ln == nil {
		return ln
	}
	if limit <= 0 {
		limit = g.cfg.ConnsPerIP
	}
	return &limitedListener{Listener: ln, g: g, proto: proto, limit: limit, refusal: refusal}
}

type limitedListener struct {
	net.Listener
	g       *Guard
	proto   string
	limit   int
	refusal []byte
}

// Accept implements net.Listener: it returns the next connection within
// the limit, refusing those over it.
func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := AddressKey(c.RemoteAddr().String())
		key := l.proto + "\x00" + ip
		if l.g.openConn(key, l.limit) {
			return &limitedConn{Conn: c, release: func() { l.g.closeConn(key) }}, nil
		}
		l.g.refusals.WithLabelValues(l.proto, "connections").Inc()
		l.g.log.Warn("connection refused: too many connections from one address", "protocol", l.proto, "ip", ip, "limit", l.limit)
		go func() { // never block Accept on a slow client
			if l.refusal != nil {
				c.Write(l.refusal)
			}
			c.Close()
		}()
	}
}

// openConn counts a new connection of key, or reports false at the limit.
func (g *Guard) openConn(key string, limit int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.conns[key] >= limit {
		return false
	}
	g.conns[key]++
	return true
}

// closeConn uncounts a connection of key.
func (g *Guard) closeConn(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.conns[key]--; g.conns[key] <= 0 {
		delete(g.conns, key)
	}
}

// limitedConn releases its slot once, at the first Close.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// Close implements net.Conn.
func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
