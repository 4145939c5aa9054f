//rl:domain

// Package echo is the echo program: it writes its arguments, separated by
// spaces and ended by a newline (none with -n), to standard output.
package echo

import (
	"strings"

	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

func init() { ulib.Register("echo", main) }

func main(p *ulib.Proc) int {
	args := p.Args[1:]
	nl := true
	for len(args) > 0 && args[0] == "-n" {
		nl = false
		args = args[1:]
	}
	s := strings.Join(args, " ")
	if nl {
		s += "\n"
	}
	if _, err := p.Stdout.WriteString(s); err != nil {
		return cli.WriteFailed(p, err)
	}
	return ulib.StatusOK
}
