package server

import "context"

// setupIMAP binds the IMAP listeners (issue 3: IMAP engineer).
func (s *Server) setupIMAP(context.Context) error { return nil }
