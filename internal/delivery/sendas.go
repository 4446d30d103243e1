package delivery

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
)

// maxSubmitHeader bounds the header section a submission's From check
// reads before the message streams on to the queue.
const maxSubmitHeader = 256 << 10

// PeekHeader reads r's header section (through the empty line that ends it,
// at most maxSubmitHeader bytes, or to the end of input) and returns those
// bytes and a reader of the whole message: the bytes read followed by the
// rest of r, unchanged. An error is r's own read error.
func PeekHeader(r io.Reader) ([]byte, io.Reader, error) {
	br := bufio.NewReaderSize(r, 32<<10)
	var hdr []byte
	for len(hdr) < maxSubmitHeader {
		line, err := br.ReadSlice('\n')
		hdr = append(hdr, line...)
		if err == io.EOF {
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			return nil, nil, err
		}
		if err == nil && (len(line) == 1 || (len(line) == 2 && line[0] == '\r')) {
			break // the empty line ending the header section
		}
	}
	return hdr, io.MultiReader(bytes.NewReader(hdr), br), nil
}

// CheckFromHeader verifies the From header field of an authenticated
// submission: every address in it must pass CheckSender (the user's own,
// or a mailbox the user holds SendAs on). A message without a From field
// passes (there is nobody to impersonate). A field that does not parse as
// an RFC 5322 address list is checked leniently: every "local@domain"
// token in it must pass, since a reader's client may still show it.
func (s *Service) CheckFromHeader(ctx context.Context, u *User, header []byte) error {
	tp := textproto.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(header), strings.NewReader("\r\n\r\n"))))
	h, _ := tp.ReadMIMEHeader() // what parsed before any malformed line
	for _, v := range h.Values("From") {
		for _, a := range fromAddresses(v) {
			if err := s.CheckSender(ctx, u, a); err != nil {
				if errors.Is(err, errSendAs) {
					return errFromSendAs
				}
				return err
			}
		}
	}
	return nil
}

// addrToken matches an addr-spec-like token in a malformed field.
var addrToken = regexp.MustCompile(`[^\s<>(),;:"\[\]]+@[^\s<>(),;:"\[\]]+`)

// fromAddresses returns the addresses of a From field value.
func fromAddresses(v string) []string {
	if list, err := mail.ParseAddressList(v); err == nil {
		out := make([]string, len(list))
		for i, a := range list {
			out[i] = a.Address
		}
		return out
	}
	return addrToken.FindAllString(v, -1)
}
