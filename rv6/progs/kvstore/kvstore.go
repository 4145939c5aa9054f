//rl:domain

// Package kvstore is the kvstore program: the memcached-protocol cache of
// apps/kvstore on a TCP port (default 11211) of the network stack the
// process holds, one thread per connection, at most -c at once (a client
// beyond gets "SERVER_ERROR too many open connections"), with -m MiB for
// items. It runs until it is killed (kill PID) or its stack goes away.
package kvstore

import (
	"fmt"
	"time"

	"github.com/rlgo/redleaf/apps/kvstore"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/progs/internal/tcpserve"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "kvstore [-p PORT] [-m MEMORY_MB] [-c MAXCONNS] [-idle DURATION] [-s STACK]"

// Limits of the flags.
const (
	MaxConnsLimit = 1024
	MaxMemoryMB   = 4096
)

func init() { ulib.Register("kvstore", main, ulib.NeedsInet) }

func main(p *ulib.Proc) int {
	f := cli.NewFlags()
	port := f.Int("p", 11211, "TCP port to listen on")
	mem := f.Int("m", 64, fmt.Sprintf("memory for items in MiB, 1..%d", MaxMemoryMB))
	maxConns := f.Int("c", 64, fmt.Sprintf("connections served at once, 1..%d", MaxConnsLimit))
	idle := f.Duration("idle", 5*time.Minute, "close a connection idle this long")
	stack := f.String("s", "", "network stack (inet:NAME; default: the first one held)")
	args, ok := cli.ParseFlags(p, p.Stderr, f, p.Args[1:], usage)
	if !ok {
		return ulib.StatusUsage
	}
	if len(args) != 0 {
		return cli.BadUsage(p, fmt.Errorf("unexpected argument %q", args[0]), usage)
	}
	if *port < 1 || *port > 65535 {
		return cli.BadUsage(p, fmt.Errorf("bad -p %d: want a port 1..65535", *port), usage)
	}
	if *mem < 1 || *mem > MaxMemoryMB {
		return cli.BadUsage(p, fmt.Errorf("bad -m %d: want 1..%d MiB", *mem, MaxMemoryMB), usage)
	}
	if *maxConns < 1 || *maxConns > MaxConnsLimit {
		return cli.BadUsage(p, fmt.Errorf("bad -c %d: want 1..%d connections", *maxConns, MaxConnsLimit), usage)
	}
	if *idle < time.Second {
		return cli.BadUsage(p, fmt.Errorf("bad -idle %v: want at least 1s", *idle), usage)
	}
	n, err := p.Inet(*stack)
	if err != nil {
		return cli.Fail(p, "network", err)
	}
	l, err := n.Listen(uint16(*port), *maxConns)
	if err != nil {
		return cli.Fail(p, fmt.Sprintf("listen on port %d", *port), err)
	}
	srv := kvstore.NewServer(kvstore.Config{MaxBytes: int64(*mem) << 20, MaxConns: *maxConns, IdleTimeout: *idle})
	ts := tcpserve.New(tcpserve.Config{MaxConns: *maxConns, Busy: []byte("SERVER_ERROR too many open connections\r\n")})
	info, _ := n.Info()
	fmt.Fprintf(p.Stderr, "kvstore: %d MiB on %s:%d\n", *mem, ulib.FormatIPv4(info.Addr), *port)
	err = ts.ServeListen(p, n, l, "kvstore", func(_ *ulib.Proc, c *tcpserve.Conn) { srv.ServeConn(c) }) //nolint:errcheck // per connection; nobody to tell
	return cli.Fail(p, "accept", err)
}
