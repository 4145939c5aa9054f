//rl:domain

// Package ping is the ping program: ICMP echo requests to a host through a
// network stack the process was granted (an inet: capability), one a
// second, -c COUNT of them (default 4), of -s SIZE payload bytes (default
// 56), each waiting up to -W SECS (default 1) for its reply. It prints
// each reply and a summary, and exits 0 if a reply came back, 1 if none.
// -S NAME takes the stack inet:NAME instead of the first one held.
package ping

import (
	"fmt"
	"strconv"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "ping [-c COUNT] [-s SIZE] [-W SECS] [-S STACK] HOST"

func init() { ulib.Register("ping", main) }

func number(opts cli.Opts, c byte, def, lo, hi int) (int, error) {
	v := opts.Value(c)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("bad -%c %q: want %d..%d", c, v, lo, hi)
	}
	return n, nil
}

func main(p *ulib.Proc) int {
	opts, args, err := cli.Parse(p.Args, "c:s:W:S:")
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	if len(args) != 1 {
		return cli.Usage(p, usage)
	}
	count, err := number(opts, 'c', 4, 1, 1<<20)
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	size, err := number(opts, 's', 56, 0, 1472)
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	wait, err := number(opts, 'W', 1, 1, int(idl.MaxWait/1e9))
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	addr, err := ulib.ParseIPv4(args[0])
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	n, err := p.Inet(opts.Value('S'))
	if err != nil {
		return cli.Fail(p, "network", err)
	}
	host := ulib.FormatIPv4(addr)
	p.Printf("PING %s: %d data bytes\n", host, size)
	got := 0
	var sum, lo, hi time.Duration
	for seq := range count {
		start := p.Uptime()
		rtt, ok, err := n.Ping(addr, uint16(seq), size, time.Duration(wait)*time.Second)
		if err != nil {
			return cli.Fail(p, "ping "+host, err)
		}
		if ok {
			got++
			sum += rtt
			if got == 1 || rtt < lo {
				lo = rtt
			}
			hi = max(hi, rtt)
			p.Printf("%d bytes from %s: icmp_seq=%d time=%.3f ms\n", size+8, host, seq, float64(rtt)/1e6)
		}
		if seq < count-1 {
			if left := time.Second - (p.Uptime() - start); left > 0 {
				if err := p.Sleep(left); err != nil {
					return cli.Fail(p, "sleep", err)
				}
			}
		}
	}
	p.Printf("--- %s ping statistics ---\n%d packets transmitted, %d received, %d%% packet loss\n", host, count, got, (count-got)*100/count)
	if got == 0 {
		return ulib.StatusError
	}
	p.Printf("rtt min/avg/max = %.3f/%.3f/%.3f ms\n", float64(lo)/1e6, float64(sum)/float64(got)/1e6, float64(hi)/1e6)
	return ulib.StatusOK
}
