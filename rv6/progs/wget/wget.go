//rl:domain

// Package wget is the wget program: an HTTP/1.1 GET of one URL through a
// network stack the process was granted (an inet: capability), its body
// saved to a file named after the URL's last path element (index.html
// for none), to FILE with -O FILE, or to standard output with -O -.
//
// Rv6 has no DNS and no TLS: the URL is http://A.B.C.D[:PORT]/PATH. The
// response must have a 2xx status (wget follows no redirects); its body
// is Content-Length bytes, chunked, or what comes until the server
// closes. The status line and headers are at most 16 KiB. -q prints
// nothing but errors; -s NAME takes the stack inet:NAME instead of the
// first one held; -w SECS bounds the connect (default 10).
package wget

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "wget [-q] [-O FILE|-] [-s STACK] [-w SECS] http://A.B.C.D[:PORT]/PATH"

func init() { ulib.Register("wget", main) }

func main(p *ulib.Proc) int {
	opts, args, err := cli.Parse(p.Args, "qO:s:w:")
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	if len(args) != 1 {
		return cli.Usage(p, usage)
	}
	t, err := parseURL(args[0])
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	timeout := 10 * time.Second
	if w := opts.Value('w'); w != "" {
		secs, err := strconv.ParseUint(w, 10, 16)
		if err != nil || secs == 0 {
			return cli.BadUsage(p, fmt.Errorf("bad -w %q: want whole seconds (1..65535)", w), usage)
		}
		timeout = time.Duration(secs) * time.Second
	}
	out := opts.Value('O')
	if out == "" {
		out = fileName(t.path)
	}
	n, err := p.Inet(opts.Value('s'))
	if err != nil {
		return cli.Fail(p, "network", err)
	}
	c, err := n.Dial(t.addr, t.port, timeout)
	if err != nil {
		return cli.Fail(p, fmt.Sprintf("connect to %s", t.host), err)
	}
	defer c.Close()
	req := "GET " + t.path + " HTTP/1.1\r\nHost: " + t.host + "\r\nUser-Agent: rv6-wget\r\nAccept: */*\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return cli.Fail(p, "send the request", err)
	}
	r := bufio.NewReaderSize(c, 4096)
	resp, err := readResponse(r)
	if err != nil {
		return cli.Fail(p, args[0], err)
	}
	if resp.status < 200 || resp.status > 299 {
		p.Errorf("%s: the server answered %d %s (nothing saved)", args[0], resp.status, resp.reason)
		return ulib.StatusError
	}
	var body io.Reader = r
	switch {
	case resp.chunked:
		body = &chunkedReader{r: r}
	case resp.length >= 0:
		body = io.LimitReader(r, resp.length)
	}
	var dst io.Writer = p.Stdout
	if out != "-" {
		f, err := p.Create(out)
		if err != nil {
			return cli.Fail(p, "create "+out, err)
		}
		defer f.Close()
		dst = f
	}
	got, rerr, werr := cli.Copy(dst, body, make([]byte, 32<<10))
	switch {
	case werr != nil:
		return cli.WriteFailed(p, werr)
	case rerr != nil:
		return cli.Fail(p, fmt.Sprintf("%s: after %d bytes of the body", args[0], got), rerr)
	case resp.length >= 0 && got < resp.length:
		return cli.Fail(p, args[0], fmt.Errorf("the server closed the connection after %d of %d bytes: %w", got, resp.length, io.ErrUnexpectedEOF))
	}
	if !opts.Has('q') && out != "-" {
		fmt.Fprintf(p.Stderr, "wget: %d %s: saved %d bytes to %s\n", resp.status, resp.reason, got, out)
	}
	return ulib.StatusOK
}
