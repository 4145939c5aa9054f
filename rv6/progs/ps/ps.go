//rl:domain

// Package ps is the ps program: it lists the processes: pid, parent, state,
// the domain running each, how long it has run, and its command line.
package ps

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const usage = "ps"

func init() { ulib.Register("ps", main) }

func main(p *ulib.Proc) int {
	if len(p.Args) > 1 {
		return cli.Usage(p, usage)
	}
	procs, err := p.Procs()
	if err != nil {
		return cli.Fail(p, "procs", err)
	}
	now := p.Uptime()
	tw := tabwriter.NewWriter(p.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PID\tPPID\tSTATE\tDOMAIN\tTIME\tCMD")
	for _, pr := range procs {
		cmd := pr.Args
		if cmd == "" {
			cmd = pr.Name
		}
		run := (now - time.Duration(pr.Start)).Round(10 * time.Millisecond)
		fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%v\t%s\n", pr.Pid, pr.PPid, pr.State, pr.Domain, run, cmd)
	}
	if err := tw.Flush(); err != nil {
		return cli.WriteFailed(p, err)
	}
	return ulib.StatusOK
}
