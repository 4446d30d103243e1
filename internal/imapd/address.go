package imapd

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/message"
)

// mailAddress is one entry of an address list as ENVELOPE lists it (RFC
// 3501 section 7.4.2): a mailbox (Host set); a group start marker (Host
// empty, Mailbox the group's name); or a group end marker (all empty).
type mailAddress struct {
	Name    string // display name, decoded (RFC 2047); "" when none
	Route   string // obsolete source route ("@a,@b"), without the colon
	Mailbox string // local part, unquoted
	Host    string // domain
}

// Placeholders for the missing half of an address, as Dovecot fills them:
// ENVELOPE has no way to say "no domain" for a mailbox (NIL means a group
// marker).
const (
	missingMailbox = "MISSING_MAILBOX"
	missingDomain  = "MISSING_DOMAIN"
)

// parseAddressList parses the value of an address header (From, Sender,
// Reply-To, To, Cc, Bcc) the way ENVELOPE and SEARCH need it: every
// mailbox of RFC 5322's address-list, including the obsolete syntax
// (source routes "<@route:user@domain>", comments anywhere, "a . b"
// local parts, empty list members), groups as start and end markers around
// their members, and a comment as the display name of a bare addr-spec
// ("user@domain (Real Name)"). It never fails: text that is not an address
// is skipped, a missing local part or domain is filled with a placeholder,
// and raw 8-bit text is read as UTF-8 or else Latin-1.
func parseAddressList(v string) []mailAddress {
	p := &addrParser{toks: lexAddresses(v)}
	var out []mailAddress
	for !p.eof() {
		switch p.peek() {
		case ',', ';', '>', ':':
			p.next()
			continue
		}
		p.comments = p.comments[:0]
		phrase := p.words(",;<@:")
		if p.peek() == ':' { // group: display-name ":" [group-list] ";"
			p.next()
			// A group without a name lists its members without markers:
			// an empty start marker would read as an end marker.
			name := decodeWord(joinPhrase(phrase))
			if name != "" {
				out = append(out, mailAddress{Mailbox: name})
			}
			for !p.eof() && p.peek() != ';' {
				if p.peek() == ',' || p.peek() == ':' || p.peek() == '>' {
					p.next()
					continue
				}
				p.comments = p.comments[:0]
				if a, ok := p.mailbox(p.words(",;<@:"), ",;"); ok {
					out = append(out, a)
				}
			}
			p.next() // the ';'
			if name != "" {
				out = append(out, mailAddress{})
			}
			continue
		}
		if a, ok := p.mailbox(phrase, ",;"); ok {
			out = append(out, a)
		}
	}
	return out
}

// imapAddresses converts parsed addresses to go-imap's type (which has no
// source route: go-imap's ENVELOPE writer always sends NIL for it).
func imapAddresses(as []mailAddress) []imap.Address {
	if len(as) == 0 {
		return nil
	}
	out := make([]imap.Address, len(as))
	for i, a := range as {
		out[i] = imap.Address{Name: a.Name, Mailbox: a.Mailbox, Host: a.Host}
	}
	return out
}

// addressSearchText renders an address list for SEARCH FROM/TO/CC/BCC
// substring matching: "Name <mailbox@host>" per mailbox and the names of
// groups, separated by ", ", so that comments, routes and folding in the
// header do not hide an address.
func addressSearchText(as []mailAddress) string {
	var b strings.Builder
	for _, a := range as {
		if a.Host == "" && a.Mailbox == "" {
			continue // group end
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		switch {
		case a.Host == "":
			b.WriteString(a.Mailbox + ":")
		case a.Name != "":
			b.WriteString(a.Name + " <" + a.Mailbox + "@" + a.Host + ">")
		default:
			b.WriteString(a.Mailbox + "@" + a.Host)
		}
	}
	return b.String()
}

// addressHeaders are the fields whose values are address lists.
var addressHeaders = []string{"From", "Sender", "Reply-To", "To", "Cc", "Bcc"}

// matchAddressHeader reports whether an address field named key contains
// substr (case-insensitive) in its addresses as addressSearchText renders
// them. It is false for fields that are not address lists.
func matchAddressHeader(e *message.Part, key, substr string) bool {
	if !slices.ContainsFunc(addressHeaders, func(h string) bool { return strings.EqualFold(h, key) }) {
		return false
	}
	for i := range e.Fields {
		if strings.EqualFold(e.Fields[i].Name, key) &&
			containsFoldString(addressSearchText(parseAddressList(e.Fields[i].Value)), substr) {
			return true
		}
	}
	return false
}

// addrTok is a lexical token of an address header: an atom ('a'), a quoted
// string ('q', unquoted), a comment ('c', without its outer parentheses),
// a domain literal ('d', with its brackets) or one of the specials
// < > @ , ; : . (the character itself). space tells whether white space
// came before it.
type addrTok struct {
	kind  byte
	text  string
	space bool
}

// lexAddresses splits an address header value into tokens. Unterminated
// quoted strings, comments and domain literals end at the end of the value.
func lexAddresses(v string) []addrTok {
	var toks []addrTok
	space := false
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			space = true
			i++
			continue
		case c == '(':
			depth, j := 1, i+1
			var b strings.Builder
			for ; j < len(v) && depth > 0; j++ {
				switch v[j] {
				case '\\':
					if j+1 < len(v) {
						j++
					}
				case '(':
					depth++
				case ')':
					depth--
					if depth == 0 {
						continue
					}
				}
				b.WriteByte(v[j])
			}
			toks = append(toks, addrTok{kind: 'c', text: strings.TrimSpace(b.String()), space: space})
			i = j
		case c == '"':
			j := i + 1
			var b strings.Builder
			for ; j < len(v) && v[j] != '"'; j++ {
				if v[j] == '\\' && j+1 < len(v) {
					j++
				}
				if v[j] == '\r' || v[j] == '\n' {
					continue
				}
				b.WriteByte(v[j])
			}
			toks = append(toks, addrTok{kind: 'q', text: b.String(), space: space})
			i = min(j+1, len(v))
		case c == '[':
			j := strings.IndexByte(v[i:], ']')
			if j < 0 {
				j = len(v) - i - 1
			}
			toks = append(toks, addrTok{kind: 'd', text: v[i : i+j+1], space: space})
			i += j + 1
		case strings.IndexByte("<>@,;:.", c) >= 0:
			toks = append(toks, addrTok{kind: c, text: string(c), space: space})
			i++
		default:
			j := i // a stray ")" is part of an atom: every other stop is handled above
			for j < len(v) && strings.IndexByte(" \t\r\n(\"[<>@,;:.", v[j]) < 0 {
				j++
			}
			toks = append(toks, addrTok{kind: 'a', text: v[i:j], space: space})
			i = j
		}
		space = false
	}
	return toks
}

// addrParser walks the tokens of an address list. Comments are collected
// as they are passed (a bare addr-spec takes one as its display name).
type addrParser struct {
	toks     []addrTok
	i        int
	comments []string
}

// skipComments moves past comments, remembering them.
func (p *addrParser) skipComments() {
	for p.i < len(p.toks) && p.toks[p.i].kind == 'c' {
		if t := p.toks[p.i].text; t != "" {
			p.comments = append(p.comments, t)
		}
		p.i++
	}
}

func (p *addrParser) eof() bool {
	p.skipComments()
	return p.i >= len(p.toks)
}

// peek returns the kind of the next token that is not a comment, 0 at the
// end.
func (p *addrParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.toks[p.i].kind
}

// next consumes the next token that is not a comment.
func (p *addrParser) next() addrTok {
	if p.eof() {
		return addrTok{}
	}
	p.i++
	return p.toks[p.i-1]
}

// words consumes tokens up to one of the stop specials (or the end).
func (p *addrParser) words(stop string) []addrTok {
	var out []addrTok
	for !p.eof() {
		k := p.peek()
		if k != 'a' && k != 'q' && k != 'd' && strings.IndexByte(stop, k) >= 0 {
			break
		}
		out = append(out, p.next())
	}
	return out
}

// mailbox parses the rest of a mailbox whose leading words (a display
// name, or the local part of a bare addr-spec) are phrase. ok is false
// when there is no address at all.
func (p *addrParser) mailbox(phrase []addrTok, stop string) (mailAddress, bool) {
	var a mailAddress
	if p.peek() == '<' { // name-addr: [display-name] "<" [route ":"] addr-spec ">"
		p.next()
		a.Name = decodeWord(joinPhrase(phrase))
		if p.peek() == '@' {
			at := p.i
			var route []addrTok
			for !p.eof() && p.peek() != ':' && p.peek() != '>' {
				route = append(route, p.next())
			}
			if p.peek() == ':' {
				p.next()
				a.Route = joinTight(route)
			} else { // "<@domain>": not a route but a missing local part
				p.i = at
			}
		}
		local := p.words("@>" + stop)
		a.Mailbox = validText(joinTight(local))
		if p.peek() == '@' {
			p.next()
			a.Host = validText(joinTight(p.words(">" + stop)))
		}
		if p.peek() == '>' {
			p.next()
		}
		// Text after the ">" up to the next address is not part of it.
		p.words(stop)
	} else { // addr-spec: local-part "@" domain, a comment as the name
		a.Mailbox = validText(joinTight(phrase))
		if p.peek() == '@' {
			p.next()
			a.Host = validText(joinTight(p.words("<@" + stop)))
		}
		if n := len(p.comments); n > 0 {
			a.Name = decodeWord(p.comments[n-1])
		}
		if p.peek() == '<' || p.peek() == '@' { // garbage: skip to the next address
			for !p.eof() && strings.IndexByte(stop, p.peek()) < 0 {
				p.next()
			}
		}
	}
	if a.Mailbox == "" && a.Host == "" {
		return a, false
	}
	if a.Mailbox == "" {
		a.Mailbox = missingMailbox
	}
	if a.Host == "" {
		a.Host = missingDomain
	}
	return a, true
}

// joinPhrase joins the words of a display name with single spaces where
// the header had white space.
func joinPhrase(toks []addrTok) string {
	var b strings.Builder
	for i, t := range toks {
		if i > 0 && t.space {
			b.WriteByte(' ')
		}
		b.WriteString(t.text)
	}
	return b.String()
}

// joinTight joins the tokens of a local part, domain or route without the
// white space around dots ("a . b" is "a.b"), keeping one space between
// two adjacent words.
func joinTight(toks []addrTok) string {
	var b strings.Builder
	for i, t := range toks {
		if i > 0 && t.space && t.kind != '.' && toks[i-1].kind != '.' {
			b.WriteByte(' ')
		}
		b.WriteString(t.text)
	}
	return b.String()
}

// decodeWord decodes encoded words (RFC 2047) of a display name.
func decodeWord(s string) string {
	return strings.TrimSpace(mailstore.DecodeHeaderText(s))
}

// validText returns s as valid UTF-8, reading raw 8-bit bytes as Latin-1
// when they are not UTF-8.
func validText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return mailstore.Latin1(s)
}
