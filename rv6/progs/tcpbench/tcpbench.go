//rl:domain

// Package tcpbench is the tcpbench program: the Rv6 side of the TCP
// throughput benchmark (net/tcpbench's protocol) over a network stack
// the process was granted. "tcpbench -l PORT" answers one client after
// the other: a client that says "recv N" sends N bytes that tcpbench
// counts and discards, one that says "send N" gets N bytes. Each
// transfer is printed with the rate the guest's clock saw (the host's
// benchmark times them from its side). -n COUNT ends after COUNT
// transfers (default: never); -s NAME takes the stack inet:NAME instead
// of the first one held.
//
// One client at a time: a second one waits in the listen backlog. It is
// a benchmark's server, not a service: a client that stalls holds it.
package tcpbench

import (
	"fmt"
	"strconv"
	"time"

	"github.com/rlgo/redleaf/net/tcpbench"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "tcpbench [-s STACK] [-n COUNT] -l PORT"

func init() { ulib.Register("tcpbench", main) }

func main(p *ulib.Proc) int {
	opts, args, err := cli.Parse(p.Args, "l:n:s:")
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	if len(args) != 0 || opts.Value('l') == "" {
		return cli.Usage(p, usage)
	}
	port, err := ulib.ParsePort(opts.Value('l'))
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	count := 0
	if v := opts.Value('n'); v != "" {
		if count, err = strconv.Atoi(v); err != nil || count < 1 {
			return cli.BadUsage(p, fmt.Errorf("bad -n %q: want a count of transfers, 1 or more", v), usage)
		}
	}
	n, err := p.Inet(opts.Value('s'))
	if err != nil {
		return cli.Fail(p, "network", err)
	}
	l, err := n.Listen(port, 4)
	if err != nil {
		return cli.Fail(p, fmt.Sprintf("listen on port %d", port), err)
	}
	defer l.Close()
	info, _ := n.Info()
	fmt.Fprintf(p.Stdout, "tcpbench: listening on %s:%d\n", ulib.FormatIPv4(info.Addr), port)
	buf := make([]byte, 64<<10)
	for done := 0; count == 0 || done < count; done++ {
		c, err := l.Accept()
		if err != nil {
			return cli.Fail(p, "accept", err)
		}
		start := time.Now()
		r, err := tcpbench.Serve(c, buf)
		elapsed := time.Since(start)
		c.Close()
		if err != nil {
			fmt.Fprintf(p.Stderr, "tcpbench: %v\n", err)
			continue
		}
		fmt.Fprintf(p.Stdout, "tcpbench: %s %d bytes in %v: %.1f MiB/s (guest clock)\n",
			r.Op, r.Bytes, elapsed.Round(time.Microsecond), float64(r.Bytes)/(1<<20)/max(elapsed.Seconds(), 1e-9))
	}
	return ulib.StatusOK
}
