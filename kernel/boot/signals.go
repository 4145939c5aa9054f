package boot

import (
	"context"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// SignalPolicy says what PID 1 does with a signal.
type SignalPolicy int

const (
	SignalIgnore    SignalPolicy = iota // log it and go on
	SignalPower                         // carry out the Action of SignalAction
	SignalDumpStack                     // print all goroutine stacks and go on
)

// initSignals are the signals PID 1 handles itself. Linux delivers to init
// only the signals it has a handler for, but the Go runtime has one for
// every signal, and by default it exits on SIGHUP, SIGINT and SIGTERM and
// crashes on SIGQUIT and SIGABRT: PID 1 must not, so all of these are
// caught here. SIGUSR1, SIGUSR2 and SIGPWR are the busybox/sysvinit
// requests to halt, power off, and (power failure) power off.
var initSignals = []os.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGTERM, unix.SIGQUIT, unix.SIGABRT,
	unix.SIGUSR1, unix.SIGUSR2, unix.SIGPWR,
}

// SignalAction returns PID 1's policy for sig and, for SignalPower, the
// action:
//
//	SIGPWR  (power failure)                     poweroff
//	SIGUSR2 (busybox "poweroff")                poweroff
//	SIGUSR1 (busybox "halt")                    halt
//	SIGINT  (ctrl-alt-del, see Init)            reboot
//	SIGQUIT                                     dump goroutine stacks
//	SIGTERM, SIGHUP, SIGABRT, anything else     ignore
//
// SIGTERM is ignored rather than treated as a shutdown request so that a
// stray "kill -TERM -1"-style broadcast cannot take the system down. The
// console is not the controlling terminal of PID 1, so typing ^C there
// sends no SIGINT.
func SignalAction(sig os.Signal) (SignalPolicy, Action) {
	switch sig {
	case unix.SIGPWR, unix.SIGUSR2:
		return SignalPower, ActionPoweroff
	case unix.SIGUSR1:
		return SignalPower, ActionHalt
	case unix.SIGINT:
		return SignalPower, ActionReboot
	case unix.SIGQUIT:
		return SignalDumpStack, 0
	}
	return SignalIgnore, 0
}

// handleSignals runs PID 1's signal loop until ctx is done.
func (k *Kernel) handleSignals(ctx context.Context) {
	// SIGPIPE only kills a Go program for writes to fds 1 and 2; the
	// console going away must not kill init.
	signal.Ignore(syscall.SIGPIPE)
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, initSignals...)
	// Ctrl-alt-del: by default the kernel restarts at once, without a
	// sync; with CAD off it sends SIGINT to init instead, and we reboot
	// in order.
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF); err != nil {
		k.Logf("ctrl-alt-del: %v", err)
	}
	defer signal.Stop(ch)
	for {
		select {
		case <-ctx.Done():
			return
		case sig := <-ch:
			k.onSignal(sig)
		}
	}
}

func (k *Kernel) onSignal(sig os.Signal) {
	pol, act := SignalAction(sig)
	name := sig.String()
	if s, ok := sig.(syscall.Signal); ok && unix.SignalName(s) != "" {
		name = unix.SignalName(s) + " (" + name + ")"
	}
	switch pol {
	case SignalPower:
		k.Logf("%s: %s", name, act)
		if err := k.Power(act); err != nil {
			k.Logf("%s: %v", name, err)
		}
	case SignalDumpStack:
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		k.Logf("%s: goroutine dump:\n%s", name, buf)
	default:
		k.Logf("%s: ignored by PID 1", name)
	}
}
