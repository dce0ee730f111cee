package elastic

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// A node URL may carry credentials (http://user:password@host:9200), the
// way curl and Kibana accept them. The password must then never be printed
// or stored: error messages, the custody log and run records name nodes by
// their URL. SplitUserinfo takes the credentials out of the URLs once, at
// the start, so nothing after it holds them in a URL; Redact covers text
// that may still quote a URL as typed (a parse error, a flag value).

// SplitUserinfo returns urls without their user:password part, and the
// credentials they carried. Several URLs may carry credentials only if they
// carry the same ones: one client sends one Authorization header. Errors
// quote the URLs redacted.
func SplitUserinfo(urls []string) (clean []string, user, password string, err error) {
	seen := false
	for _, raw := range urls {
		u, perr := url.Parse(raw)
		if perr != nil {
			// url.Error quotes the URL as given, password and all.
			msg := perr.Error()
			if ue, ok := perr.(*url.Error); ok {
				msg = ue.Err.Error()
			}
			return nil, "", "", fmt.Errorf("elasticsearch URL %s: %s", Redact(raw), Redact(msg))
		}
		if u.User != nil {
			p, _ := u.User.Password()
			if seen && (u.User.Username() != user || p != password) {
				return nil, "", "", fmt.Errorf("elasticsearch URLs %s carry different credentials; one client sends one set", Redact(strings.Join(urls, ", ")))
			}
			seen, user, password = true, u.User.Username(), p
			u.User = nil
		}
		clean = append(clean, u.String())
	}
	return clean, user, password, nil
}

// Redact replaces the password of every URL in s ("scheme://user:pw@host")
// by xxxxx, as url.URL.Redacted does, also where s does not parse as a URL.
func Redact(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+3])
		s = s[i+3:]
		// The authority ends at the path, query or fragment, or where the
		// URL ends inside a message (space, quote, comma of a list).
		end := strings.IndexAny(s, "/?# \t\r\n\"'`,;")
		if end < 0 {
			end = len(s)
		}
		auth := s[:end]
		// The userinfo ends at the authority's last @, as url.Parse reads
		// it: a password may hold an @ of its own.
		if at := strings.LastIndexByte(auth, '@'); at >= 0 {
			if colon := strings.IndexByte(auth[:at], ':'); colon >= 0 {
				b.WriteString(auth[:colon+1])
				b.WriteString("xxxxx")
				b.WriteString(auth[at:])
				s = s[end:]
				continue
			}
		}
		b.WriteString(auth)
		s = s[end:]
	}
}

// PlainCredentials names the nodes that credentials would reach in clear
// text: http (not https) URLs whose host is not this machine's loopback.
// Basic auth and API keys are a header, readable and reusable by anyone on
// the network path of such a request.
func PlainCredentials(urls []string) []string {
	var out []string
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || !strings.EqualFold(u.Scheme, "http") {
			continue
		}
		h := u.Hostname()
		if ip := net.ParseIP(h); h == "localhost" || (ip != nil && ip.IsLoopback()) {
			continue
		}
		u.User = nil
		out = append(out, u.String())
	}
	return out
}
