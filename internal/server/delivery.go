package server

import "context"

// setupDelivery wires the delivery queue (issue 3: SMTP engineer).
func (s *Server) setupDelivery(context.Context) error { return nil }

// setupSMTP binds the SMTP listeners (issue 3: SMTP engineer).
func (s *Server) setupSMTP(context.Context) error { return nil }
