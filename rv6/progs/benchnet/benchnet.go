//rl:domain

// Package benchnet is Rv6's benchnet: the packet rate of an ixgbe port
// (the 82599 model when the machine has none) forwarding from its RX queue
// to its TX queue, at batch sizes 1, 32 and 256, in Mpps and ns per
// packet, through the kernel's shadow capabilities to the driver domain.
// The benchmark is the kernel monitor's benchnet command (it needs the
// kernel's capability to the driver); this program forwards its arguments
// to it. benchnet -h lists the flags.
package benchnet

import (
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

func init() { ulib.Register("benchnet", main) }

func main(p *ulib.Proc) int {
	st, err := p.Monitor(append([]string{"benchnet"}, p.Args[1:]...))
	if err != nil {
		return cli.Fail(p, "monitor", err)
	}
	return st
}
