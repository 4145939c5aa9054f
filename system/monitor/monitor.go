// Package monitor is the kernel's command monitor as a service
// (idl.Monitor): the commands of the kernel's console shell (the
// registry that system fills: domains, kill, restart, inject, blk,
// nvme, lspci, call; and the power commands) run on behalf of the Rv6
// domain, whose shell falls back to them for names no program has.
//
// It is trusted kernel code: the commands reach the domain manager, the
// PCI bus and the power switch. A command runs in a shell of its own
// (package rv6/sh) with no input, its output and errors captured together
// and cut at idl.MonitorOutput bytes.
package monitor

import (
	"context"
	"strings"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/sh"
)

// StatusUnknown is Run's status for a command the monitor does not have.
const StatusUnknown = 127

// A Monitor runs the commands of one registry.
type Monitor struct {
	reg      *sh.Registry
	fallback func(string) (sh.Command, bool)
}

// New returns a monitor running reg's commands and, for names reg does not
// have, the ones fallback finds (nil: none), such as the initramfs's
// programs.
func New(reg *sh.Registry, fallback func(string) (sh.Command, bool)) *Monitor {
	return &Monitor{reg: reg, fallback: fallback}
}

// capped keeps the first idl.MonitorOutput bytes written to it.
type capped struct {
	res *idl.MonitorResult
}

func (c *capped) Write(p []byte) (int, error) {
	n := copy(c.res.Out[c.res.N:], p)
	c.res.N += int32(n)
	return len(p), nil
}

// Run implements idl.Monitor. argv is NUL-separated, argv[0] the command.
func (m *Monitor) Run(argv string) (res idl.MonitorResult, err error) {
	args := strings.Split(strings.TrimSuffix(argv, "\x00"), "\x00")
	if len(args) == 0 || args[0] == "" {
		res.Status = StatusUnknown
		return res, nil
	}
	// The command is looked up once: a fallback's search (files in
	// /bbin) is not repeated when the shell runs it.
	var fallback func(string) (sh.Command, bool)
	if _, ok := m.reg.Lookup(args[0]); !ok {
		var cmd sh.Command
		if m.fallback != nil {
			cmd, ok = m.fallback(args[0])
		}
		if !ok {
			res.Status = StatusUnknown
			return res, nil
		}
		fallback = func(name string) (sh.Command, bool) { return cmd, name == args[0] }
	}
	// Commands run concurrently, each in a shell of its own: an inject
	// typed while a background fwd or benchfs runs must not wait for it.
	// The system's commands guard their own state.
	out := &capped{res: &res}
	s := sh.New(sh.Options{Stdout: out, Stderr: out, Registry: m.reg, Name: "monitor", Fallback: fallback})
	res.Status = int32(s.Eval(context.Background(), Quote(args)))
	return res, nil
}

// Quote makes a shell line that runs args as they are.
func Quote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
