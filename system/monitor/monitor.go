// Package monitor is the kernel's command monitor as a service
// (idl.Monitor): the commands of the kernel's console shell (the
// registry that system fills: domains, kill, restart, inject, blk, nvme,
// lspci, call; and the power commands) run on behalf of Rv6's processes.
//
// The kernel makes two: one with the read-only views only (Views: domains,
// lspci, ifconfig), granted to Rv6 for Sys.Monitor, which any process may
// call; and one with every command (Admin), the admin capability, which Rv6
// hands to a process only when its spawner passes it (the console's login
// shell holds it). Neither runs anything but the registry's commands: no
// host binary is reachable from Rv6.
//
// It is composition-root code: the commands reach the domain manager, the
// PCI bus and the power switch. A command runs on a goroutine of the
// kernel's (so a panic in it, which is reported as status 2, never
// unwinds through the caller's thread, and the caller's domain's unwinding
// never meets a recover of the monitor's), with no input, its output and
// errors captured together and cut at idl.MonitorOutput bytes.
package monitor

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/system/sh"
)

// Statuses of Run besides the command's own.
const (
	StatusUnknown = 127 // no command of the name
	StatusDenied  = 126 // a command that changes the system, asked of Views
	StatusPanic   = 2   // the command panicked
)

// A Monitor runs the commands of one registry: all of them, or only the
// read-only views.
type Monitor struct {
	reg   *sh.Registry
	admin bool
}

// Admin returns a monitor running every command of reg.
func Admin(reg *sh.Registry) *Monitor { return &Monitor{reg: reg, admin: true} }

// Views returns a monitor running only reg's read-only views
// (sh.Registry.RegisterView); the others get StatusDenied and a message
// saying what would allow them.
func Views(reg *sh.Registry) *Monitor { return &Monitor{reg: reg} }

// capped keeps the first idl.MonitorOutput bytes written to it.
type capped struct {
	mu  sync.Mutex
	res *idl.MonitorResult
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := copy(c.res.Out[c.res.N:], p)
	c.res.N += int32(n)
	return len(p), nil
}

// Run implements idl.Monitor. argv is NUL-separated, argv[0] the command.
// Commands run concurrently: an inject typed while a background fwd runs
// must not wait for it (the system's commands guard their own state).
func (m *Monitor) Run(argv string) (idl.MonitorResult, error) {
	var res idl.MonitorResult
	args := strings.Split(strings.TrimSuffix(argv, "\x00"), "\x00")
	if len(args) == 0 || args[0] == "" {
		res.Status = StatusUnknown
		return res, nil
	}
	e, ok := m.reg.Lookup(args[0])
	if !ok {
		res.Status = StatusUnknown
		return res, nil
	}
	out := &capped{res: &res}
	if !m.admin && !e.View {
		fmt.Fprintf(out, "%s: permission denied: it changes the system, which needs the admin capability: "+
			"only the console's login shell holds it, and passes it with `grant admin PROGRAM` "+
			"(views for everyone: %s)\n", args[0], strings.Join(m.views(), ", "))
		res.Status = StatusDenied
		return res, nil
	}
	status := make(chan int32, 1)
	go func() {
		st := int32(StatusPanic)
		defer func() {
			if v := recover(); v != nil {
				fmt.Fprintf(out, "%s: panic: %v\n", args[0], v)
			}
			status <- st
		}()
		p := &sh.Proc{Args: args, Stdin: strings.NewReader(""), Stdout: out, Stderr: out}
		st = int32(e.Command.Run(context.Background(), p) & 0xff)
	}()
	st := <-status
	out.mu.Lock()
	defer out.mu.Unlock()
	res.Status = st
	return res, nil
}

// views lists the registry's read-only views.
func (m *Monitor) views() []string {
	var names []string
	for _, e := range m.reg.Entries() {
		if e.View {
			names = append(names, e.Name)
		}
	}
	return names
}
