package smtpd

import (
	"errors"
	"strings"

	"github.com/emersion/go-smtp"

	"github.com/tenantferry/tenantferry/internal/delivery"
)

// Protocol-level refusals of this adapter.
var (
	errAuthRequired = &delivery.Error{Code: 530, Status: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	errNeedMail     = &delivery.Error{Code: 503, Status: smtp.EnhancedCode{5, 5, 1}, Message: "MAIL FROM first"}
	errNeedRcpt     = &delivery.Error{Code: 503, Status: smtp.EnhancedCode{5, 5, 1}, Message: "RCPT TO first"}
	errAuthzDiffers = &delivery.Error{Code: 535, Status: smtp.EnhancedCode{5, 7, 8}, Message: "authorization identity must match the user"}
	// errAuthRateLimited: too many failed AUTH attempts from the address
	// or for the account (RFC 4954's temporary authentication failure).
	errAuthRateLimited = &delivery.Error{Code: 454, Status: smtp.EnhancedCode{4, 7, 0}, Message: "too many failed authentications; try again later"}
	// errMessageRate: the account is over its submission rate.
	errMessageRate = &delivery.Error{Code: 450, Status: smtp.EnhancedCode{4, 7, 1}, Message: "message rate limit exceeded; try again later"}
)

// reply is the one place that turns an error into an SMTP reply: go-smtp's
// own replies pass through, delivery errors keep their code and public
// text, anything else becomes a temporary local error. The detail (the
// cause) goes to the log only.
func (ss *session) reply(cmd string, err error) error {
	if err == nil {
		return nil
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) { // go-smtp's own (size limit, data reset)
		ss.log.Info("command refused", "cmd", cmd, "reply", se.Code, "err", err)
		return se
	}
	de := delivery.AsError(err)
	attrs := []any{"cmd", cmd, "reply", de.Code, "status", de.StatusText()}
	if de.Cause != nil {
		attrs = append(attrs, "detail", de.Cause.Error())
	}
	if de.Temporary() {
		ss.log.Warn("command failed temporarily", attrs...)
	} else {
		ss.log.Info("command refused", attrs...)
	}
	return &smtp.SMTPError{Code: de.Code, EnhancedCode: enhanced(de.Status, de.Code), Message: oneLine(de.Message)}
}

// withCause returns a copy of e that logs err as its cause.
func withCause(e *delivery.Error, err error) *delivery.Error {
	c := *e
	c.Cause = err
	return &c
}

// enhanced is status when its class matches the reply code's, else
// "C.0.0" for the code's class.
func enhanced(status smtp.EnhancedCode, code int) smtp.EnhancedCode {
	if status[0] == code/100 {
		return status
	}
	return smtp.EnhancedCode{code / 100, 0, 0}
}

// oneLine keeps a reply text on one line.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
