package server

import (
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
	return ln, nil
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
