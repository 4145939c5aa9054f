package wget

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rlgo/redleaf/rv6/ulib"
)

// target is what a URL names.
type target struct {
	addr [4]byte
	port uint16
	host string // as the Host header names it (with a port other than 80)
	path string // from the first /, with the query
}

// maxURL bounds a URL's length.
const maxURL = 2048

// parseURL parses http://A.B.C.D[:PORT][/PATH]: Rv6 has no DNS, so the
// host is a dotted IPv4 address.
func parseURL(s string) (target, error) {
	var t target
	if len(s) > maxURL {
		return t, fmt.Errorf("URL of %d bytes: at most %d", len(s), maxURL)
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f {
			return t, fmt.Errorf("URL %q: has a space or control character (escape it as %%XX)", s)
		}
	}
	scheme, rest, ok := strings.Cut(s, "://")
	switch {
	case !ok:
		return t, fmt.Errorf("URL %q: want http://HOST[:PORT]/PATH", s)
	case strings.EqualFold(scheme, "https"):
		return t, fmt.Errorf("URL %q: https is not supported (no TLS in Rv6): use http://", s)
	case !strings.EqualFold(scheme, "http"):
		return t, fmt.Errorf("URL %q: scheme %q is not supported: use http://", s, scheme)
	}
	hostport, path := rest, "/"
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		hostport, path = rest[:i], rest[i:]
		if path[0] != '/' {
			path = "/" + path
		}
	}
	if i := strings.IndexByte(path, '#'); i >= 0 {
		path = path[:i] // the fragment is the client's
	}
	if strings.Contains(hostport, "@") {
		return t, fmt.Errorf("URL %q: user names and passwords are not supported", s)
	}
	host, portText, hasPort := strings.Cut(hostport, ":")
	t.port = 80
	if hasPort {
		p, err := strconv.ParseUint(portText, 10, 16)
		if err != nil || p == 0 {
			return t, fmt.Errorf("URL %q: bad port %q (1..65535)", s, portText)
		}
		t.port = uint16(p)
	}
	if host == "" {
		return t, fmt.Errorf("URL %q: no host", s)
	}
	a, err := ulib.ParseIPv4(host)
	if err != nil {
		return t, fmt.Errorf("URL %q: host %q: Rv6 has no DNS, give the server's dotted IPv4 address (as http://10.0.2.2/)", s, host)
	}
	t.addr, t.path, t.host = a, path, host
	if t.port != 80 {
		t.host = fmt.Sprintf("%s:%d", host, t.port)
	}
	return t, nil
}

// fileName is the name of the file a URL's path saves to: its last
// element, or index.html.
func fileName(path string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	name := path[strings.LastIndexByte(path, '/')+1:]
	if name == "" || name == "." || name == ".." {
		return "index.html"
	}
	return name
}
