package imapd

import (
	"strings"
)

// The command lines of ENABLE, SELECT, EXAMINE, STATUS and LIST as this
// extension rewrites them before go-imap reads them (condstore.go's file
// comment). A mailbox name may come as a literal ("SELECT {5}" CRLF
// "INBOX (CONDSTORE)"): then the first line ends at the literal and the
// parameters are on the line that follows its bytes, which modCont
// rewrites. A line this file cannot read is left to go-imap, which
// refuses the parameters with BAD.

// modLine rewrites the first line of ENABLE, SELECT, EXAMINE, STATUS and
// LIST.
func (s *session) modLine(name string, line []byte) []byte {
	switch name {
	case "ENABLE", "SELECT", "EXAMINE", "STATUS", "LIST":
	default:
		return line
	}
	tag, _, _ := commandStart(line)
	body := strings.TrimRight(string(line), "\r\n")
	start := len(tag) + 1 + len(name)
	if start > len(body) {
		return line
	}
	r := newArgReader(body[start:])
	switch name {
	case "ENABLE":
		return s.enableLine(tag, r, line)
	case "LIST":
		return s.listStatusLine(tag, body, line)
	}
	if !r.sp() {
		return line
	}
	if r.peek() == '{' {
		// The name is a literal: its parameters follow its bytes.
		s.mods.litTag, s.mods.litCmd = tag, name
		return line
	}
	r.astring()
	end := start + r.pos
	if r.err != "" {
		return line
	}
	if rest, ok := s.modParams(tag, name, body[end:]); ok {
		return []byte(body[:end] + rest + "\r\n")
	}
	return line
}

// modCont rewrites the line that follows the literal mailbox name of a
// SELECT, EXAMINE or STATUS whose first line modLine saw.
func (s *session) modCont(name string, line []byte) []byte {
	tag, cmd := s.mods.litTag, s.mods.litCmd
	s.mods.litTag, s.mods.litCmd = "", ""
	if tag == "" || cmd != name {
		return line
	}
	if rest, ok := s.modParams(tag, name, strings.TrimRight(string(line), "\r\n")); ok {
		return []byte(rest + "\r\n")
	}
	return line
}

// modParams reads what follows the mailbox name of a SELECT, EXAMINE or
// STATUS, records the parameters of this extension for the responses, and
// returns the rest of the line as go-imap should read it; ok is false when
// the line is to be left as it is.
func (s *session) modParams(tag, name, after string) (string, bool) {
	r := newArgReader(after)
	if name == "SELECT" || name == "EXAMINE" {
		if !r.maybe(' ') {
			if !r.eof() {
				return "", false
			}
			s.mods.sel, s.mods.tag = &selectParams{}, tag
			return "", true
		}
		p := r.selectParams()
		if r.err != "" || !r.eof() || p.qresync != nil && !s.mods.qresync {
			return "", false // go-imap refuses the parameters with BAD
		}
		s.mods.sel, s.mods.tag = p, tag
		return "", true
	}
	r.sp()
	keep, found := r.statusItems()
	if r.err != "" || !found || !r.eof() {
		return "", false
	}
	s.mods.statusOn, s.mods.status, s.mods.tag = true, 0, tag
	s.enableCondStore()
	return " (" + strings.Join(keep, " ") + ")", true
}

// statusItems reads a STATUS item list and returns it without
// HIGHESTMODSEQ; found reports whether HIGHESTMODSEQ was asked for.
func (r *argReader) statusItems() (keep []string, found bool) {
	r.list(func() {
		it := r.atom()
		if strings.EqualFold(it, "HIGHESTMODSEQ") {
			found = true
		} else {
			keep = append(keep, it)
		}
	})
	return keep, found
}

// enableLine takes CONDSTORE and QRESYNC out of an ENABLE line and
// remembers them for "* ENABLED".
func (s *session) enableLine(tag string, r *argReader, line []byte) []byte {
	var keep []string
	var caps []string
	for r.maybe(' ') {
		c := r.atom()
		switch strings.ToUpper(c) {
		case "CONDSTORE", "QRESYNC":
			caps = append(caps, strings.ToUpper(c))
		default:
			keep = append(keep, c)
		}
	}
	if r.err != "" || len(caps) == 0 {
		return line
	}
	s.mods.enabling, s.mods.tag = caps, tag
	return []byte(strings.TrimSpace(tag+" ENABLE "+strings.Join(keep, " ")) + "\r\n")
}

// listStatusLine takes HIGHESTMODSEQ out of the STATUS return option of a
// LIST (RFC 5819 with RFC 7162 section 3.1.3): the return options are the
// line's last list, after the last " RETURN (" from which the rest of the
// line reads as return options. List (list.go) then queues each listed
// folder's value for its "* STATUS" response.
func (s *session) listStatusLine(tag, body string, line []byte) []byte {
	upper := strings.ToUpper(body)
	for at := strings.LastIndex(upper, " RETURN ("); at > 0; at = strings.LastIndex(upper[:at], " RETURN (") {
		r := newArgReader(body[at+len(" RETURN "):])
		var out []string
		found := false
		r.list(func() {
			opt := r.atom()
			if !strings.EqualFold(opt, "STATUS") {
				if r.peek() == ' ' && r.pos+1 < len(r.s) && r.s[r.pos+1] == '(' {
					r.pos++ // an option's parameters, kept as written
					from := r.pos
					r.skipList()
					opt += " " + r.s[from:r.pos]
				}
				out = append(out, opt)
				return
			}
			r.sp()
			keep, f := r.statusItems()
			found = found || f
			out = append(out, "STATUS ("+strings.Join(keep, " ")+")")
		})
		if r.err != "" || !r.eof() {
			continue
		}
		if !found {
			return line
		}
		s.mods.listStatus, s.mods.listModSeqs, s.mods.tag = true, nil, tag
		s.enableCondStore()
		return []byte(body[:at] + " RETURN (" + strings.Join(out, " ") + ")\r\n")
	}
	return line
}
