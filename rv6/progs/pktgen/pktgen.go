//rl:domain

// Package pktgen is Rv6's pktgen: it sends frames of a set size on an
// ixgbe port at a set rate (or as fast as the port takes them) and prints
// the rate achieved and the counters. The generator is the kernel
// monitor's pktgen command (it needs the kernel's capability to the
// driver); this program forwards its arguments to it. pktgen -h lists the
// flags.
package pktgen

import (
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

func init() { ulib.Register("pktgen", main) }

func main(p *ulib.Proc) int {
	st, err := p.Monitor(append([]string{"pktgen"}, p.Args[1:]...))
	if err != nil {
		return cli.Fail(p, "monitor", err)
	}
	return st
}
