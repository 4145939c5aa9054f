//rl:domain

// Package uptime is the uptime program: it prints how long Rv6 has been
// running and how many processes there are.
package uptime

import (
	"fmt"
	"time"

	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "uptime"

func init() { ulib.Register("uptime", main) }

func main(p *ulib.Proc) int {
	if len(p.Args) > 1 {
		return cli.Usage(p, usage)
	}
	up := p.Uptime().Round(10 * time.Millisecond)
	procs, err := p.Procs()
	if err != nil {
		return cli.Fail(p, "procs", err)
	}
	plural := "es"
	if len(procs) == 1 {
		plural = ""
	}
	if _, err := fmt.Fprintf(p.Stdout, "up %v, %d process%s\n", up, len(procs), plural); err != nil {
		return cli.WriteFailed(p, err)
	}
	return ulib.StatusOK
}
