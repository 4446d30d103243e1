// Package wellknown serves what mail clients and sending servers fetch
// over HTTP to find and trust this server for an accepted domain:
//
//   - GET /.well-known/mta-sts.txt on host mta-sts.DOMAIN: the MTA-STS
//     policy (RFC 8461) of the domain (mailauth.MTASTSPolicy);
//   - GET /mail/config-v1.1.xml and /.well-known/autoconfig/mail/config-v1.1.xml
//     (host autoconfig.DOMAIN, or ?emailaddress=): Thunderbird's
//     autoconfig with the IMAP and submission settings;
//   - POST /autodiscover/autodiscover.xml (any case): Outlook's POX
//     autodiscover with the same settings.
//
// Invariants: only a domain a tenant holds and has verified gets an
// answer (404 otherwise, the same for unknown and pending domains); the
// answers hold no secret and nothing about users, only the server's
// names and ports; request bodies are bounded.
package wellknown

import (
	"context"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/mailauth"
)

// maxBody bounds an autodiscover request.
const maxBody = 16 << 10

// Handler answers the well-known requests.
type Handler struct {
	// Host returns the server's names and ports (it may change after
	// start, when the listeners are bound).
	Host func() admin.Host
	// Hosted reports whether a tenant holds the domain, verified.
	Hosted func(ctx context.Context, domain string) (bool, error)
}

// Routes registers the handlers on mux.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /.well-known/mta-sts.txt", h.mtaSTS)
	mux.HandleFunc("GET /mail/config-v1.1.xml", h.autoconfig)
	mux.HandleFunc("GET /.well-known/autoconfig/mail/config-v1.1.xml", h.autoconfig)
	mux.HandleFunc("POST /autodiscover/autodiscover.xml", h.autodiscover)
	mux.HandleFunc("POST /Autodiscover/Autodiscover.xml", h.autodiscover)
	mux.HandleFunc("POST /AutoDiscover/AutoDiscover.xml", h.autodiscover)
}

// requestHost is the request's host name, lower-case, without port.
func requestHost(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// hosted returns the domain when a tenant holds it verified, else
// answers 404 (or 503 when the directory fails) and returns "".
func (h *Handler) hosted(w http.ResponseWriter, r *http.Request, domain string) string {
	domain = strings.ToLower(strings.TrimSpace(domain))
	ok, err := false, error(nil)
	if domain != "" && len(domain) <= 253 {
		ok, err = h.Hosted(r.Context(), domain)
	}
	switch {
	case err != nil:
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
	case !ok:
		http.NotFound(w, r)
	default:
		return domain
	}
	return ""
}

func (h *Handler) mtaSTS(w http.ResponseWriter, r *http.Request) {
	d, ok := strings.CutPrefix(requestHost(r), "mta-sts.")
	if !ok {
		http.NotFound(w, r)
		return
	}
	if h.hosted(w, r, d) == "" {
		return
	}
	host := h.Host()
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, mailauth.MTASTSPolicy(host.Hostname, host.TLS))
}

// domainOf finds the domain of an autoconfig request: the emailaddress
// parameter's, else the host's below "autoconfig.".
func domainOf(r *http.Request) string {
	if a := r.URL.Query().Get("emailaddress"); strings.Contains(a, "@") {
		return a[strings.LastIndexByte(a, '@')+1:]
	}
	d, _ := strings.CutPrefix(requestHost(r), "autoconfig.")
	return d
}

// server is one server of an autoconfig answer.
type server struct {
	Type           string `xml:"type,attr"`
	Hostname       string `xml:"hostname"`
	Port           int    `xml:"port"`
	SocketType     string `xml:"socketType"`
	Username       string `xml:"username"`
	Authentication string `xml:"authentication"`
}

// clientConfig is Thunderbird's autoconfig document (config-v1.1).
type clientConfig struct {
	XMLName  xml.Name `xml:"clientConfig"`
	Version  string   `xml:"version,attr"`
	Provider struct {
		ID          string   `xml:"id,attr"`
		Domain      string   `xml:"domain"`
		DisplayName string   `xml:"displayName"`
		Incoming    []server `xml:"incomingServer"`
		Outgoing    []server `xml:"outgoingServer"`
	} `xml:"emailProvider"`
}

func (h *Handler) autoconfig(w http.ResponseWriter, r *http.Request) {
	d := h.hosted(w, r, domainOf(r))
	if d == "" {
		return
	}
	host := h.Host()
	var cc clientConfig
	cc.Version, cc.Provider.ID, cc.Provider.Domain, cc.Provider.DisplayName = "1.1", d, d, d
	srv := func(typ string, port int, socket string) server {
		return server{Type: typ, Hostname: host.Hostname, Port: port, SocketType: socket, Username: "%EMAILADDRESS%", Authentication: "password-cleartext"}
	}
	starttls := "plain"
	if host.TLS {
		starttls = "STARTTLS"
	}
	if host.IMAPSPort > 0 {
		cc.Provider.Incoming = append(cc.Provider.Incoming, srv("imap", host.IMAPSPort, "SSL"))
	}
	if host.IMAPPort > 0 {
		cc.Provider.Incoming = append(cc.Provider.Incoming, srv("imap", host.IMAPPort, starttls))
	}
	if host.SubmissionPort > 0 {
		cc.Provider.Outgoing = append(cc.Provider.Outgoing, srv("smtp", host.SubmissionPort, starttls))
	}
	writeXML(w, cc)
}

// autodiscoverRequest is Outlook's POX autodiscover request.
type autodiscoverRequest struct {
	Request struct {
		EMailAddress             string
		AcceptableResponseSchema string
	}
}

// protocol is one protocol of an autodiscover answer.
type protocol struct {
	Type         string
	Server       string
	Port         int
	LoginName    string
	SPA          string
	SSL          string
	Encryption   string `xml:",omitempty"`
	AuthRequired string
}

// autodiscoverResponse is the answer (responseschema/2006 with the
// outlook/responseschema/2006a account settings).
type autodiscoverResponse struct {
	XMLName  xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006 Autodiscover"`
	Response struct {
		XMLNS   string `xml:"xmlns,attr"`
		Account struct {
			AccountType string
			Action      string
			Protocol    []protocol
		}
	}
}

func (h *Handler) autodiscover(w http.ResponseWriter, r *http.Request) {
	var req autodiscoverRequest
	if err := xml.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&req); err != nil || !strings.Contains(req.Request.EMailAddress, "@") {
		http.Error(w, "send an autodiscover request with an EMailAddress", http.StatusBadRequest)
		return
	}
	addr := strings.TrimSpace(req.Request.EMailAddress)
	if h.hosted(w, r, addr[strings.LastIndexByte(addr, '@')+1:]) == "" {
		return
	}
	host := h.Host()
	var resp autodiscoverResponse
	resp.Response.XMLNS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
	resp.Response.Account.AccountType, resp.Response.Account.Action = "email", "settings"
	proto := func(typ string, port int, ssl, enc string) protocol {
		return protocol{Type: typ, Server: host.Hostname, Port: port, LoginName: addr, SPA: "off", SSL: ssl, Encryption: enc, AuthRequired: "on"}
	}
	tls, enc := "off", ""
	if host.TLS {
		tls, enc = "on", "TLS"
	}
	if host.IMAPSPort > 0 {
		resp.Response.Account.Protocol = append(resp.Response.Account.Protocol, proto("IMAP", host.IMAPSPort, "on", "SSL"))
	} else if host.IMAPPort > 0 {
		resp.Response.Account.Protocol = append(resp.Response.Account.Protocol, proto("IMAP", host.IMAPPort, tls, enc))
	}
	if host.SubmissionPort > 0 {
		resp.Response.Account.Protocol = append(resp.Response.Account.Protocol, proto("SMTP", host.SubmissionPort, tls, enc))
	}
	writeXML(w, resp)
}

// writeXML writes v as an XML document.
func writeXML(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	io.WriteString(w, xml.Header)
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	enc.Encode(v)
}
