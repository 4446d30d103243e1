package imapd

import (
	"io"
	"math"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"

	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/message"
)

// This file builds ENVELOPE and BODYSTRUCTURE from a message's part tree
// (internal/message) without the message's bytes: only a broken Date
// field makes envelope read the header's bytes.

// fieldsHeader converts parsed fields to a go-message header in which Get
// returns the first occurrence of a field, as mail readers expect.
func fieldsHeader(fields []message.Field) textproto.Header {
	var h textproto.Header
	for i := len(fields) - 1; i >= 0; i-- {
		h.Add(fields[i].Name, fields[i].Value)
	}
	return h
}

// partEnvelope is envelope over a part tree; r reads the stored message
// (for the fallback date parser only).
func partEnvelope(r io.ReaderAt, p *message.Part) (env *imap.Envelope) {
	defer func() {
		if recover() != nil {
			env = &imap.Envelope{}
		}
	}()
	env = imapserver.ExtractEnvelope(fieldsHeader(p.Fields))
	if env.Date.IsZero() && r != nil {
		hdr := make([]byte, min(p.BodyStart-p.Start, maxHeaderRead))
		n, _ := r.ReadAt(hdr, p.Start)
		env.Date = mailstore.ParseHeader(hdr[:n]).Date
	}
	for _, a := range []struct {
		name string
		list *[]imap.Address
	}{{"From", &env.From}, {"Sender", &env.Sender}, {"Reply-To", &env.ReplyTo}, {"To", &env.To}, {"Cc", &env.Cc}, {"Bcc", &env.Bcc}} {
		*a.list = imapAddresses(parseAddressList(p.Get(a.name)))
	}
	return env
}

// partStructure is bodyStructure over a part tree.
func partStructure(r io.ReaderAt, p *message.Part) imap.BodyStructure {
	h := gomessage.Header{Header: fieldsHeader(p.Fields)}
	disp := disposition(h)
	lang := language(p.Get("Content-Language"))
	loc := p.Get("Content-Location")
	if p.Multipart() {
		bs := &imap.BodyStructureMultiPart{Subtype: p.Subtype, Extended: &imap.BodyStructureMultiPartExt{
			Params: p.Params, Disposition: disp, Language: lang, Location: loc,
		}}
		for _, c := range p.Parts {
			bs.Children = append(bs.Children, partStructure(r, c))
		}
		if len(bs.Children) == 0 {
			bs.Children = []imap.BodyStructure{&imap.BodyStructureSinglePart{
				Type: "text", Subtype: "plain", Text: &imap.BodyStructureText{}, Extended: &imap.BodyStructureSinglePartExt{},
			}}
		}
		return bs
	}
	bs := &imap.BodyStructureSinglePart{
		Type: p.Type, Subtype: p.Subtype, Params: p.Params,
		ID:          p.Get("Content-Id"),
		Description: p.Get("Content-Description"),
		Encoding:    strings.TrimSpace(p.Get("Content-Transfer-Encoding")),
		Size:        uint32(min(p.BodySize(), math.MaxUint32)),
		Extended:    &imap.BodyStructureSinglePartExt{Disposition: disp, Language: lang, Location: loc},
	}
	if !atomSafe(bs.Encoding) {
		bs.Encoding = "7bit"
	}
	switch {
	case p.Message != nil:
		bs.MessageRFC822 = &imap.BodyStructureMessageRFC822{
			Envelope:      partEnvelope(r, p.Message),
			BodyStructure: partStructure(r, p.Message),
			NumLines:      p.Lines,
		}
	case p.Type == "text":
		bs.Text = &imap.BodyStructureText{NumLines: p.Lines}
	}
	return bs
}

// safePartStructure is partStructure that turns a panic into a plain text
// structure covering the whole message.
func safePartStructure(r io.ReaderAt, root *message.Part) (bs imap.BodyStructure) {
	defer func() {
		if recover() != nil {
			bs = &imap.BodyStructureSinglePart{Type: "text", Subtype: "plain", Size: uint32(min(root.End, math.MaxUint32)),
				Text: &imap.BodyStructureText{NumLines: root.Lines}, Extended: &imap.BodyStructureSinglePartExt{}}
		}
	}()
	return partStructure(r, root)
}
