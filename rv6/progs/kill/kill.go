//rl:domain

// Package kill is the kill program: it ends each process named by its pid.
// An argument that is not a number names a domain of the kernel (as the
// monitor's `domains` lists them), which the monitor's kill command
// terminates: that needs the admin capability (`grant admin kill NAME` at
// the console's login shell), and without it kill says so.
package kill

import (
	"fmt"
	"strconv"

	"github.com/rlgo/redleaf/idl"
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
	var admin idl.Monitor // imported at the first domain named
	for _, a := range args {
		pid, err := strconv.Atoi(a)
		if err != nil {
			if admin == nil {
				if admin, err = ulib.Cap[idl.Monitor](p, ulib.CapAdmin); err != nil {
					p.Errorf("%s: killing a domain needs the admin capability: run it as `grant admin kill %s` from the console's login shell", a, a)
					status = ulib.StatusError
					continue
				}
			}
			st, err := p.Admin(admin, []string{"kill", a})
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
