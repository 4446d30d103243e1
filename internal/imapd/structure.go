package imapd

import (
	"bytes"
	"math"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	gomessage "github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // charsets for RFC 2047 words
	"github.com/emersion/go-message/textproto"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// textprotoHeader converts parsed fields to a go-message header in which
// Get returns the first occurrence of a field, as mail readers expect.
func textprotoHeader(fields []field) textproto.Header {
	var h textproto.Header
	for i := len(fields) - 1; i >= 0; i-- {
		h.Add(fields[i].name, fields[i].value)
	}
	return h
}

// envelope builds the ENVELOPE of a message or enclosed message: date,
// subject and message IDs with go-imap's ExtractEnvelope (repairing a date
// in a non-standard format), the address lists with parseAddressList,
// which keeps groups, routed and commented addresses that go-imap's
// strict parser drops. It never fails; a panic in a parser yields an
// empty envelope.
func envelope(raw []byte, e *entity) (env *imap.Envelope) {
	defer func() {
		if recover() != nil {
			env = &imap.Envelope{}
		}
	}()
	env = imapserver.ExtractEnvelope(textprotoHeader(e.fields))
	if env.Date.IsZero() {
		env.Date = mailstore.ParseHeader(raw[e.start:e.bodyStart]).Date
	}
	for _, a := range []struct {
		name string
		list *[]imap.Address
	}{{"From", &env.From}, {"Sender", &env.Sender}, {"Reply-To", &env.ReplyTo}, {"To", &env.To}, {"Cc", &env.Cc}, {"Bcc", &env.Bcc}} {
		*a.list = imapAddresses(parseAddressList(e.get(a.name)))
	}
	return env
}

// bodyStructure builds the BODYSTRUCTURE of an entity (always with the
// extension data, which go-imap requires). A multipart without parts gets
// one empty text/plain part, because the syntax needs at least one.
func bodyStructure(raw []byte, e *entity) imap.BodyStructure {
	h := gomessage.Header{Header: textprotoHeader(e.fields)}
	disp := disposition(h)
	lang := language(e.get("Content-Language"))
	loc := e.get("Content-Location")
	if e.multipart() {
		bs := &imap.BodyStructureMultiPart{Subtype: e.sub, Extended: &imap.BodyStructureMultiPartExt{
			Params: e.params, Disposition: disp, Language: lang, Location: loc,
		}}
		for _, c := range e.children {
			bs.Children = append(bs.Children, bodyStructure(raw, c))
		}
		if len(bs.Children) == 0 {
			bs.Children = []imap.BodyStructure{&imap.BodyStructureSinglePart{
				Type: "text", Subtype: "plain", Text: &imap.BodyStructureText{}, Extended: &imap.BodyStructureSinglePartExt{},
			}}
		}
		return bs
	}
	body := raw[e.bodyStart:e.end]
	bs := &imap.BodyStructureSinglePart{
		Type: e.typ, Subtype: e.sub, Params: e.params,
		ID:          e.get("Content-Id"),
		Description: e.get("Content-Description"),
		Encoding:    strings.TrimSpace(e.get("Content-Transfer-Encoding")),
		Size:        uint32(min(int64(len(body)), math.MaxUint32)),
		Extended:    &imap.BodyStructureSinglePartExt{Disposition: disp, Language: lang, Location: loc},
	}
	if !atomSafe(bs.Encoding) {
		bs.Encoding = "7bit"
	}
	switch {
	case e.msg != nil:
		bs.MessageRFC822 = &imap.BodyStructureMessageRFC822{
			Envelope:      envelope(raw, e.msg),
			BodyStructure: bodyStructure(raw, e.msg),
			NumLines:      countLines(body),
		}
	case e.typ == "text":
		bs.Text = &imap.BodyStructureText{NumLines: countLines(body)}
	}
	return bs
}

// safeBodyStructure is bodyStructure that turns a panic in a parser into a
// plain text structure covering the whole message.
func safeBodyStructure(raw []byte, root *entity) (bs imap.BodyStructure) {
	defer func() {
		if recover() != nil {
			bs = &imap.BodyStructureSinglePart{Type: "text", Subtype: "plain", Size: uint32(min(int64(len(raw)), math.MaxUint32)),
				Text: &imap.BodyStructureText{NumLines: countLines(raw)}, Extended: &imap.BodyStructureSinglePartExt{}}
		}
	}()
	return bodyStructure(raw, root)
}

// disposition returns the Content-Disposition, nil when absent or broken.
func disposition(h gomessage.Header) *imap.BodyStructureDisposition {
	v := h.Get("Content-Disposition")
	if v == "" {
		return nil
	}
	d, params, err := h.ContentDisposition()
	if err != nil || d == "" {
		d, _, _ = strings.Cut(v, ";")
		d = strings.ToLower(strings.TrimSpace(d))
		params = lenientParams(v)
	}
	if !token(d) {
		return nil
	}
	return &imap.BodyStructureDisposition{Value: d, Params: params}
}

// language splits a Content-Language value.
func language(v string) []string {
	var out []string
	for _, l := range strings.Split(v, ",") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// countLines counts the line terminators (LF or CRLF; a lone CR is not one,
// as in the MIME parser) in b.
func countLines(b []byte) int64 {
	return int64(bytes.Count(b, []byte("\n")))
}

// atomSafe reports whether s can be sent as a quoted string that clients
// will take as a transfer encoding name.
func atomSafe(s string) bool {
	return s == "" || token(s)
}
