//rl:domain

// Package kill is the kill program: it ends each process named by its pid.
// An argument that is not a number names a domain of the kernel (as the
// monitor's `domains` lists them), which the monitor's kill command
// terminates.
package kill

import (
	"fmt"
	"strconv"

	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "kill PID|DOMAIN..."

func init() { ulib.Register("kill", main) }

func main(p *ulib.Proc) int {
	args := p.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return cli.Usage(p, usage)
	}
	status := ulib.StatusOK
	for _, a := range args {
		pid, err := strconv.Atoi(a)
		if err != nil {
			st, err := p.Monitor([]string{"kill", a})
			if err != nil {
				status = cli.Fail(p, a, err)
			} else if st != 0 {
				status = ulib.StatusError
			}
			continue
		}
		if pid <= 0 {
			status = cli.Fail(p, a, fmt.Errorf("no such process"))
			continue
		}
		if err := p.Kill(pid); err != nil {
			status = cli.Fail(p, a, err)
		}
	}
	return status
}
