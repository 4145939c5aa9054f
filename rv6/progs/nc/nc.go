//rl:domain

// Package nc is the nc program (netcat) over a network stack the process
// was granted (an inet: capability): "nc HOST PORT" connects, "nc -l PORT"
// waits for one connection. Either way it copies standard input to the
// connection (ending its sending side at the end of input) and the
// connection to standard output, until the peer ends its side. -d reads
// no standard input; -v reports the connection on standard error; -s
// NAME takes the stack inet:NAME instead of the first one held; -w SECS
// bounds the connect.
package nc

import (
	"fmt"
	"strconv"
	"time"

	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "nc [-dv] [-s STACK] [-w SECS] HOST PORT | nc -l [-dv] [-s STACK] PORT"

func init() { ulib.Register("nc", main) }

func main(p *ulib.Proc) int {
	opts, args, err := cli.Parse(p.Args, "dlvs:w:")
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	listen := opts.Has('l')
	if (listen && len(args) != 1) || (!listen && len(args) != 2) {
		return cli.Usage(p, usage)
	}
	var timeout time.Duration
	if w := opts.Value('w'); w != "" {
		secs, err := strconv.ParseUint(w, 10, 16)
		if err != nil || secs == 0 {
			return cli.BadUsage(p, fmt.Errorf("bad -w %q: want whole seconds (1..65535)", w), usage)
		}
		timeout = time.Duration(secs) * time.Second
	}
	port, err := ulib.ParsePort(args[len(args)-1])
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	var addr [4]byte
	if !listen {
		if addr, err = ulib.ParseIPv4(args[0]); err != nil {
			return cli.BadUsage(p, err, usage)
		}
	}
	n, err := p.Inet(opts.Value('s'))
	if err != nil {
		return cli.Fail(p, "network", err)
	}
	var c *ulib.Conn
	if listen {
		l, err := n.Listen(port, 1)
		if err != nil {
			return cli.Fail(p, fmt.Sprintf("listen on port %d", port), err)
		}
		if opts.Has('v') {
			info, _ := n.Info()
			fmt.Fprintf(p.Stderr, "nc: listening on %s:%d\n", ulib.FormatIPv4(info.Addr), port)
		}
		c, err = l.Accept()
		l.Close()
		if err != nil {
			return cli.Fail(p, "accept", err)
		}
	} else if c, err = n.Dial(addr, port, timeout); err != nil {
		return cli.Fail(p, fmt.Sprintf("connect to %s:%d", args[0], port), err)
	}
	defer c.Close()
	if opts.Has('v') {
		a, pt, _ := c.Peer()
		fmt.Fprintf(p.Stderr, "nc: connected to %s:%d\n", ulib.FormatIPv4(a), pt)
	}
	if !opts.Has('d') {
		q := p.Fork()
		p.Go("stdin", func() {
			_, rerr, werr := cli.Copy(c, q.Stdin, make([]byte, 16<<10))
			if rerr == nil && werr == nil {
				c.CloseWrite()
			}
		})
	}
	_, rerr, werr := cli.Copy(p.Stdout, c, make([]byte, 16<<10))
	switch {
	case werr != nil:
		return cli.WriteFailed(p, werr)
	case rerr != nil:
		return cli.Fail(p, "read from the connection", rerr)
	}
	return ulib.StatusOK
}
