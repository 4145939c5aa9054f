//rl:domain

// Package nc is the nc program (netcat) over a network stack the process
// was granted (an inet: capability): "nc HOST PORT" connects, "nc -l PORT"
// waits for one connection. Either way it copies standard input to the
// connection (ending its sending side at the end of input) and the
// connection to standard output, until the peer ends its side. Its
// standard files are descriptors like any: redirections and pipes of the
// shell work (nc HOST PORT < file, cat f | nc HOST PORT > out). -d reads
// no standard input; -v reports the connection on standard error; -s
// NAME takes the stack inet:NAME instead of the first one held; -w SECS
// bounds the connect.
//
// With -u it speaks UDP: each read of standard input is one datagram
// (at most 1472 bytes), and each datagram received is written to standard
// output. "nc -u HOST PORT" sends to HOST:PORT and, once its input ended,
// waits -w SECS (default 1) for more datagrams after the last one;
// "nc -u -l PORT" receives on PORT, sends its input to the first sender,
// and ends after -w SECS without a datagram if -w is given.
package nc

import (
	"fmt"
	"strconv"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "nc [-duv] [-s STACK] [-w SECS] HOST PORT | nc -l [-duv] [-s STACK] [-w SECS] PORT"

func init() { ulib.Register("nc", main) }

func main(p *ulib.Proc) int {
	opts, args, err := cli.Parse(p.Args, "dluvs:w:")
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
	if opts.Has('u') {
		return udp(p, n, opts, listen, addr, port, timeout)
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

// maxDatagram is the largest UDP payload in one 1500-byte frame.
const maxDatagram = 1472

// udp is nc -u: one thread polls standard input and the socket.
func udp(p *ulib.Proc, n *ulib.Inet, opts cli.Opts, listen bool, addr [4]byte, port uint16, timeout time.Duration) int {
	var u *ulib.UDPConn
	var err error
	var peer [4]byte
	var peerPort uint16
	if listen {
		u, err = n.ListenUDP(port)
		if err != nil {
			return cli.Fail(p, fmt.Sprintf("listen on udp port %d", port), err)
		}
		if opts.Has('v') {
			info, _ := n.Info()
			fmt.Fprintf(p.Stderr, "nc: listening on udp %s:%d\n", ulib.FormatIPv4(info.Addr), port)
		}
	} else {
		if u, err = n.DialUDP(addr, port); err != nil {
			return cli.Fail(p, fmt.Sprintf("udp to %s:%d", ulib.FormatIPv4(addr), port), err)
		}
		peer, peerPort = addr, port
		if timeout == 0 {
			timeout = time.Second
		}
	}
	defer u.Close()
	in := !opts.Has('d')
	buf := make([]byte, maxDatagram)
	for {
		fds := []idl.PollFd{{Fd: int32(u.Fd()), Events: idl.PollIn}}
		if in && peerPort != 0 {
			fds = append(fds, idl.PollFd{Fd: 0, Events: idl.PollIn})
		}
		wait := time.Duration(-1)
		if timeout > 0 && (listen || !in) {
			wait = timeout // idle: since the last datagram (or the end of input)
		}
		k, err := p.Poll(fds, wait)
		if err != nil {
			return cli.Fail(p, "poll", err)
		}
		if k == 0 {
			return ulib.StatusOK
		}
		if fds[0].Revents != 0 {
			m, from, fromPort, err := u.ReadFrom(buf)
			if err != nil {
				return cli.Fail(p, "receive", err)
			}
			if peerPort == 0 {
				peer, peerPort = from, fromPort
				if opts.Has('v') {
					fmt.Fprintf(p.Stderr, "nc: datagrams from %s:%d\n", ulib.FormatIPv4(from), fromPort)
				}
			}
			if _, err := p.Stdout.Write(buf[:m]); err != nil {
				return cli.WriteFailed(p, err)
			}
		}
		if len(fds) > 1 && fds[1].Revents != 0 {
			m, err := p.Stdin.Read(buf)
			switch {
			case m > 0:
				if _, err := u.WriteTo(buf[:m], peer, peerPort); err != nil {
					return cli.Fail(p, "send", err)
				}
			case err != nil: // the end of input (io.EOF) or a failed read
				in = false
				if timeout == 0 {
					return ulib.StatusOK // nothing to wait for
				}
			}
		}
	}
}
