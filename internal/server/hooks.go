package server

import (
	"strconv"

	"context"
	"net"
)

// setupJobsRunner creates the job runner once every component registered its
// workers.
func (s *Server) setupJobsRunner(context.Context) error { return s.setupJobs() }

// listen binds a named mail listener unless its address is empty or "off".
func (s *Server) listen(name, addr string) (net.Listener, error) {
	if addr == "" || addr == "off" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s.listeners = append(s.listeners, namedListener{name: name, ln: ln})
	return s.Metrics.countConns(s.Limits.Listener(ln, name, 0, connRefusals[name]), name), nil
}

// connRefusals are the lines a connection over --max-conns-per-ip gets
// before it is closed, per listener (none on implicit-TLS ports).
var connRefusals = map[string][]byte{
	"imap":       []byte("* BYE too many connections from your address\r\n"),
	"smtp":       []byte("421 4.7.0 too many connections from your address\r\n"),
	"submission": []byte("421 4.7.0 too many connections from your address\r\n"),
	"http":       []byte("HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
}

// port returns the port of a named listener (0 when it is not enabled).
func (s *Server) port(name string) int {
	_, p, err := net.SplitHostPort(s.Addr(name))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// Addr returns the bound address of a named listener ("imap", "smtp",
// "submission", ...), or "" when it is not enabled.
func (s *Server) Addr(name string) string {
	for _, l := range s.listeners {
		if l.name == name {
			return l.ln.Addr().String()
		}
	}
	return ""
}
