package imapd

import (
	"encoding/base64"
	"strings"
	"unicode/utf16"
)

// mutf7Base64 is the modified base64 of mailbox names (RFC 3501 section
// 5.1.3): "," instead of "/", no padding.
var mutf7Base64 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")

// escapeBareAmpersands makes a mailbox name valid modified UTF-7 by
// writing every "&" that does not start a valid shift sequence as "&-",
// its escaped form: "R&D" becomes "R&-D", which decodes to "R&D". Valid
// shift sequences ("&AOQ-", "&-") are kept, so a valid name is returned
// unchanged. Clients that do not encode "&" thus get the folder they name
// instead of an error.
func escapeBareAmpersands(name string) string {
	if !strings.Contains(name, "&") {
		return name
	}
	var b strings.Builder
	afterShift := false // the previous bytes were a base64 segment
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '&' {
			b.WriteByte(c)
			afterShift = false
			continue
		}
		end := strings.IndexByte(name[i+1:], '-')
		switch {
		case end == 0: // "&-"
			b.WriteString("&-")
			i++
			afterShift = false
		case end > 0 && !afterShift && validShift(name[i+1:i+1+end]):
			b.WriteString(name[i : i+2+end])
			i += 1 + end
			afterShift = true
		default: // a bare "&" (or one starting a second, adjacent segment)
			b.WriteString("&-")
			afterShift = false
		}
	}
	return b.String()
}

// validShift reports whether seg (the text between "&" and "-") is
// modified base64 of UTF-16 that encodes only characters that must be
// encoded (not printable ASCII), with whole code units and surrogate pairs.
func validShift(seg string) bool {
	switch len(seg) % 4 {
	case 1:
		return false
	case 2:
		seg += "=="
	case 3:
		seg += "="
	}
	buf, err := mutf7Base64.DecodeString(seg)
	if err != nil || len(buf) == 0 || len(buf)%2 != 0 {
		return false
	}
	units := make([]uint16, len(buf)/2)
	for i := range units {
		units[i] = uint16(buf[2*i])<<8 | uint16(buf[2*i+1])
	}
	for i := 0; i < len(units); i++ {
		r := rune(units[i])
		switch {
		case utf16.IsSurrogate(r):
			if i+1 == len(units) || utf16.DecodeRune(r, rune(units[i+1])) == 0xfffd {
				return false
			}
			i++
		case r >= 0x20 && r <= 0x7e:
			return false
		}
	}
	return true
}
