//rl:domain

// Package lspci is the lspci program: it asks the domain kernel's monitor
// for its PCI device listing (which devices there are and who drives each:
// a driver domain or a Linux driver), with the arguments given.
package lspci

import (
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

func init() { ulib.Register("lspci", main) }

func main(p *ulib.Proc) int {
	st, err := p.Monitor(append([]string{"lspci"}, p.Args[1:]...))
	if err != nil {
		return cli.Fail(p, "monitor", err)
	}
	return st
}
