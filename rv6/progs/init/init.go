//rl:domain

// Package init is the init program, the first process: the kernel runs it
// on the console (idl.Rv6.Run), with the capabilities the kernel lets Rv6
// hand out (admin, the NICs, the block devices). It runs `sh /etc/rc` if
// that file exists (with no capability), then the console's login shell,
// which it starts again whenever it exits and passes every capability it
// holds: the person at the console administers the system, and passes on
// what a program needs with the shell's grant. It also reaps the processes
// whose parents ended before them, which Rv6 reparents to it.
//
// A shell that exits at once over and over (a console at the end of its
// input, a broken shell) is restarted after a growing pause, up to
// maxBackoff, so that init never spins.
package init

import (
	"time"

	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

const (
	rcFile     = "/etc/rc"
	shell      = "sh"
	quickExit  = time.Second            // a shell that lived less than this exited "at once"
	minBackoff = 100 * time.Millisecond // the first pause after a quick exit
	maxBackoff = 5 * time.Second
)

func init() { ulib.Register("init", main) }

func main(p *ulib.Proc) int {
	if len(p.Args) > 1 {
		return cli.Usage(p, "init")
	}
	if _, ok := p.LookupEnv("HOME"); !ok {
		p.Setenv("HOME", "/")
	}
	if _, err := p.Stat(rcFile); err == nil {
		st, err := p.Run(shell, []string{shell, rcFile}, ulib.SpawnOptions{})
		switch {
		case err != nil:
			p.Errorf("%s: %s", rcFile, cli.Text(err))
		case !st.Exited:
			p.Errorf("%s: %s", rcFile, cli.Describe(st))
		case st.Status != 0:
			p.Errorf("%s: exit status %d", rcFile, st.Status)
		}
	}
	backoff := time.Duration(0)
	for {
		started := p.Uptime()
		pid, err := p.Spawn(shell, []string{shell}, ulib.SpawnOptions{Caps: p.Caps()})
		if err != nil {
			p.Errorf("starting %s: %s", shell, cli.Text(err))
			backoff = next(backoff)
			p.Sleep(backoff)
			continue
		}
		// Reap orphans until the shell itself ends.
		for {
			st, err := p.Wait(-1)
			if err != nil {
				p.Errorf("wait: %s", cli.Text(err))
				p.Sleep(minBackoff)
				continue
			}
			if st.Pid != int32(pid) {
				continue // an orphan, reaped
			}
			if !st.Exited {
				p.Errorf("%s: %s; starting another", shell, cli.Describe(st))
			}
			break
		}
		if p.Uptime()-started < quickExit {
			backoff = next(backoff)
			p.Sleep(backoff)
		} else {
			backoff = 0
		}
	}
}

func next(d time.Duration) time.Duration {
	if d == 0 {
		return minBackoff
	}
	return min(2*d, maxBackoff)
}
