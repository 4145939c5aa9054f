//rl:domain

// Package fwd is Rv6's fwd: it forwards packets from one ixgbe port to
// another (on the 82599 model, one port's model generates them and the
// other's sinks them) for a duration or a number of packets, and prints
// the rate, the ports' counters and the packets lost; -inject arms a fault
// in a driver during the run, to watch its shadow recover it. The loop is
// the kernel monitor's fwd command (it needs the kernel's capabilities to
// the drivers); this program forwards its arguments to it. fwd -h lists
// the flags.
package fwd

import (
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

func init() { ulib.Register("fwd", main) }

func main(p *ulib.Proc) int {
	st, err := p.Monitor(append([]string{"fwd"}, p.Args[1:]...))
	if err != nil {
		return cli.Fail(p, "monitor", err)
	}
	return st
}
