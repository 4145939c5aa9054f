// Package boot is what the domain kernel must do as PID 1 on Linux: mount
// the pseudo file systems, read the kernel command line, print the banner,
// reap orphaned zombies, handle the signals init gets, power the machine
// off, and never exit.
//
// Nothing here touches the machine unless the process is PID 1: on a
// developer's host or in tests (or with Options.DryRun) the kernel runs in
// dry-run mode, where it mounts nothing, installs no signal handlers, and
// turns power actions into an exit of the process.
package boot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/rlgo/redleaf/kernel/modules"
	"github.com/rlgo/redleaf/version"
	"golang.org/x/sys/unix"
)

// BannerPrefix starts the first line of the banner. Tests match it; keep it
// stable.
const BannerPrefix = "RedLeaf-Go domain kernel"

// Options configure Init.
type Options struct {
	// Console receives the kernel's messages. Default os.Stderr (the
	// console, for PID 1).
	Console io.Writer
	// DryRun forces dry-run mode even as PID 1. Dry-run mode is always on
	// when the process is not PID 1.
	DryRun bool
	// Cmdline replaces /proc/cmdline (for tests and dry runs). Nil: read
	// /proc/cmdline; if that fails, use an empty command line.
	Cmdline *Cmdline
	// Mounts replaces DefaultMounts.
	Mounts []Mount
	// Exit ends the process in dry-run mode where PID 1 would power off
	// (code 0) or die (code 1). Default os.Exit. Never used as PID 1.
	Exit func(code int)
}

// Kernel is the state of the booted domain kernel.
type Kernel struct {
	Cmdline *Cmdline
	Config  Config
	Reaper  *Reaper

	console io.Writer
	outMu   sync.Mutex
	dryRun  bool
	exit    func(int)
	cancel  context.CancelFunc
	powerMu sync.Mutex
}

// Init sets the machine up as PID 1: mounts (DefaultMounts), console on fds
// 0-2 if they are not connected, quieter kernel console, command line,
// signal handlers and the zombie reaper; netbooted (rl.report= on the
// command line), it also starts reporting "booted" to the netboot server
// in the background (startReport). Failures are printed to the console
// and Init goes on: it always returns a usable Kernel. In dry-run mode it
// only reads the command line.
func Init(opts Options) *Kernel {
	k := &Kernel{
		console: opts.Console,
		dryRun:  opts.DryRun || !IsPID1(),
		exit:    opts.Exit,
		Config:  DefaultConfig(),
		Reaper:  NewReaper(nil),
	}
	if k.console == nil {
		k.console = os.Stderr
	}
	if k.exit == nil {
		k.exit = os.Exit
	}
	if !k.dryRun {
		mounts := opts.Mounts
		if mounts == nil {
			mounts = DefaultMounts
		}
		for _, err := range sysMounter.mountAll(mounts) {
			k.Logf("%v", err)
		}
		if err := attachConsole(); err != nil {
			k.Logf("console: %v", err)
		}
		if os.Getenv("PATH") == "" {
			os.Setenv("PATH", "/bin:/sbin:/usr/bin:/usr/sbin")
		}
	}
	k.Cmdline = opts.Cmdline
	if k.Cmdline == nil {
		var err error
		k.Cmdline, err = ReadCmdline()
		if err != nil && !k.dryRun {
			k.Logf("%v", err)
		}
	}
	var errs []error
	k.Config, errs = ParseConfig(k.Cmdline)
	for _, err := range errs {
		k.Logf("cmdline: %v", err)
	}
	if !k.dryRun {
		// The modules the build packed (kernel.modules) come before
		// anything that may need their devices.
		if _, err := modules.Load(k.Logf); err != nil {
			k.Logf("%v", err)
		}
		if !k.Config.Debug {
			// Kernel messages below KERN_WARNING would interleave with
			// the shell on the console.
			if err := os.WriteFile("/proc/sys/kernel/printk", []byte("4"), 0); err != nil {
				k.Logf("quiet console: %v", err)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		k.cancel = cancel
		k.Reaper = NewReaper(func(pid int, ws unix.WaitStatus) {
			if k.Config.Debug {
				k.Logf("reaped orphan %d (%s)", pid, describeStatus(ws))
			}
		})
		k.goSafe("reaper", func() { k.Reaper.Loop(ctx) })
		k.goSafe("signals", func() { k.handleSignals(ctx) })
		k.startReport()
	}
	return k
}

// DryRun reports whether the kernel is in dry-run mode (not PID 1).
func (k *Kernel) DryRun() bool { return k.dryRun }

// Console returns where the kernel prints.
func (k *Kernel) Console() io.Writer { return k.console }

// Logf prints one line "rlkernel: ..." to the console.
func (k *Kernel) Logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	k.outMu.Lock()
	defer k.outMu.Unlock()
	fmt.Fprintf(k.console, "rlkernel: %s\n", strings.TrimRight(msg, "\n"))
}

// Debugf is Logf when rl.debug is set.
func (k *Kernel) Debugf(format string, args ...any) {
	if k.Config.Debug {
		k.Logf(format, args...)
	}
}

// BannerLine is the first line of the banner:
// "RedLeaf-Go domain kernel <version> (linux/<arch>, Linux <release>)".
func BannerLine() string {
	release := "unknown"
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		release = unix.ByteSliceToString(u.Release[:])
	}
	return fmt.Sprintf("%s %s (%s/%s, Linux %s)", BannerPrefix, version.String(), runtime.GOOS, runtime.GOARCH, release)
}

// Banner prints the banner: BannerLine, the command line, and a note in
// dry-run mode.
func (k *Kernel) Banner(w io.Writer) {
	if w == nil {
		w = k.console
	}
	fmt.Fprintln(w, BannerLine())
	raw := ""
	if k.Cmdline != nil {
		raw = k.Cmdline.Raw
	}
	fmt.Fprintf(w, "cmdline: %s\n", raw)
	if k.dryRun {
		fmt.Fprintf(w, "dry run (pid %d, not PID 1): nothing mounted, power commands exit the process\n", os.Getpid())
	}
}

// ErrDryRun is returned by power actions in dry-run mode when Exit returns
// (tests give an Exit that does).
var ErrDryRun = errors.New("dry run: not powering off")

// Poweroff powers the machine off; see Power.
func (k *Kernel) Poweroff() error { return k.Power(ActionPoweroff) }

// Reboot restarts the machine; see Power.
func (k *Kernel) Reboot() error { return k.Power(ActionReboot) }

// Halt halts the machine; see Power.
func (k *Kernel) Halt() error { return k.Power(ActionHalt) }

// Power carries out a. As PID 1 it returns only on failure. In dry-run
// mode it prints what it would do and calls Exit(0).
func (k *Kernel) Power(a Action) error {
	k.powerMu.Lock() // one power action at a time (shell vs SIGPWR)
	defer k.powerMu.Unlock()
	if k.dryRun {
		k.Logf("dry run: would %s; exiting", a)
		k.exit(0)
		return ErrDryRun
	}
	k.Logf("%s", map[Action]string{ActionPoweroff: "powering off", ActionReboot: "rebooting", ActionHalt: "halting"}[a])
	return Power(a)
}

// Fatal prints err and carries out rl.onfatal. As PID 1 it never returns:
// if the power action fails it halts, and if that fails too it sleeps
// forever (PID 1 must not exit). In dry-run mode it calls Exit(1) and
// returns only if Exit does.
func (k *Kernel) Fatal(err error) {
	k.Logf("fatal: %v", err)
	if k.dryRun {
		k.exit(1)
		return
	}
	defer func() {
		if r := recover(); r != nil {
			k.Logf("panic in Fatal: %v", r)
		}
		k.hang()
	}()
	k.Logf("rl.onfatal=%s", k.Config.OnFatal)
	if perr := k.Power(k.Config.OnFatal); perr != nil {
		k.Logf("%v", perr)
	}
	if k.Config.OnFatal != ActionHalt {
		k.Logf("%s failed; halting", k.Config.OnFatal)
		_ = Power(ActionHalt)
	}
}

// hang sleeps forever. (A timer, not select{}: with no runnable goroutine
// the runtime would abort with "all goroutines are asleep".)
func (k *Kernel) hang() {
	for {
		time.Sleep(time.Hour)
	}
}

// Main is the whole life of PID 1: Init, then run under a recover. When run
// returns (with or without an error) or panics, PID 1 prints why and
// carries out rl.onfatal: the kernel would panic ("Attempted to kill
// init") if init exited. In dry-run mode Main returns after run returns
// nil, and exits with status 1 after an error or a panic.
func Main(opts Options, run func(k *Kernel) error) {
	k := Init(opts)
	k.Guard("main", func() error { return run(k) })
	if !k.dryRun {
		k.Fatal(errors.New("main returned"))
	}
	if k.cancel != nil {
		k.cancel()
	}
}

// Guard runs fn, turning a panic into a fatal error. An error returned by
// fn is fatal too. It returns normally only if fn returns nil.
func (k *Kernel) Guard(what string, fn func() error) {
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%s: panic: %v\n%s", what, r, debug.Stack())
			}
		}()
		if e := fn(); e != nil {
			err = fmt.Errorf("%s: %w", what, e)
		}
	}()
	if err != nil {
		k.Fatal(err)
	}
}

// goSafe runs fn in a goroutine; a panic there is fatal (instead of
// killing PID 1 with a runtime crash).
func (k *Kernel) goSafe(what string, fn func()) {
	go k.Guard(what, func() error { fn(); return nil })
}

// attachConsole makes sure fds 0, 1 and 2 are the console. Linux opens
// /dev/console for init if the initramfs has it; otherwise the Go runtime
// put /dev/null there (or could not start at all). Now that devtmpfs is
// mounted, open /dev/console and put it on whichever of 0-2 is missing or
// /dev/null.
func attachConsole() error {
	var need []int
	for fd := 0; fd < 3; fd++ {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || (st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == unix.Mkdev(1, 3)) {
			need = append(need, fd)
		}
	}
	if len(need) == 0 {
		return nil
	}
	c, err := unix.Open("/dev/console", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/console: %w", err)
	}
	for _, fd := range need {
		if fd == c {
			continue
		}
		if err := unix.Dup3(c, fd, 0); err != nil {
			return fmt.Errorf("dup /dev/console to fd %d: %w", fd, err)
		}
	}
	if c > 2 {
		unix.Close(c)
	} else {
		// c itself is one of 0-2: keep it open across exec.
		_, _ = unix.FcntlInt(uintptr(c), unix.F_SETFD, 0)
	}
	return nil
}

func describeStatus(ws unix.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		return fmt.Sprintf("killed by %v", ws.Signal())
	}
	return fmt.Sprintf("status %#x", uint32(ws))
}
