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
func partEnvelope(r io.ReaderAt, p *message.Part) *imap.Envelope {
	e := buildEnvelope(r, p)
	env := e.env
	for i, l := range []*[]imap.Address{&env.From, &env.Sender, &env.ReplyTo, &env.To, &env.Cc, &env.Bcc} {
		*l = imapAddresses(e.lists[i])
	}
	return env
}

// buildEnvelope is the ENVELOPE of a message's part tree as the FETCH
// writer sends it: the address lists keep source routes (go-imap's type has
// no field for them). A panic yields an empty envelope.
func buildEnvelope(r io.ReaderAt, p *message.Part) (e envelopeData) {
	defer func() {
		if recover() != nil {
			e = envelopeData{env: &imap.Envelope{}}
		}
	}()
	env := imapserver.ExtractEnvelope(fieldsHeader(p.Fields))
	if env.Date.IsZero() && r != nil {
		hdr := make([]byte, min(p.BodyStart-p.Start, maxHeaderRead))
		n, _ := r.ReadAt(hdr, p.Start)
		env.Date = mailstore.ParseHeader(hdr[:n]).Date
	}
	env.From, env.Sender, env.ReplyTo, env.To, env.Cc, env.Bcc = nil, nil, nil, nil, nil, nil
	e.env = env
	for i, name := range envelopeFields {
		e.lists[i] = parseAddressList(p.Get(name))
	}
	return e
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
