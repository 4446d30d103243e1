package server

import (
	"net"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// connMetrics counts the connections of one mail protocol per listener.
type connMetrics struct {
	opened *prometheus.CounterVec // tenantferry_<proto>_connections_total
	open   *prometheus.GaugeVec   // tenantferry_<proto>_connections_open
}

func newConnMetrics(proto, name string) *connMetrics {
	return &connMetrics{
		opened: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tenantferry_" + proto + "_connections_total",
			Help: name + " connections accepted (within --max-conns-per-ip), by listener."}, []string{"listener"}),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tenantferry_" + proto + "_connections_open",
			Help: name + " connections open now, by listener."}, []string{"listener"}),
	}
}

// connListeners maps a mail listener's name to its protocol and listener
// label: the MX listener (--smtp) is "mx", the others keep their names.
var connListeners = map[string]struct{ proto, label string }{
	"imap":       {"imap", "imap"},
	"imaps":      {"imap", "imaps"},
	"smtp":       {"smtp", "mx"},
	"submission": {"smtp", "submission"},
}

// countConns counts the connections ln accepts under the metrics of the
// listener name (unknown names are returned as they are). Its series
// exist, at zero, from the moment the listener is bound.
func (m *Metrics) countConns(ln net.Listener, name string) net.Listener {
	l, ok := connListeners[name]
	if !ok || ln == nil {
		return ln
	}
	c := m.conns[l.proto]
	return &countingListener{Listener: ln, opened: c.opened.WithLabelValues(l.label), open: c.open.WithLabelValues(l.label)}
}

type countingListener struct {
	net.Listener
	opened prometheus.Counter
	open   prometheus.Gauge
}

// Accept implements net.Listener.
func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.opened.Inc()
	l.open.Inc()
	return &countedConn{Conn: c, open: l.open}, nil
}

// countedConn leaves the open gauge once, at its first Close.
type countedConn struct {
	net.Conn
	once sync.Once
	open prometheus.Gauge
}

// Close implements net.Conn.
func (c *countedConn) Close() error {
	c.once.Do(c.open.Dec)
	return c.Conn.Close()
}
