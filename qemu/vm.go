package qemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rlgo/redleaf/console"
)

// VM is a running QEMU whose serial console is driven by a
// console.Console.
type VM struct {
	cmd     *exec.Cmd
	bin     string
	args    []string
	dir     string
	console *console.Console
	stdin   *os.File // our end of QEMU's stdin
	stdout  *os.File // our end of QEMU's stdout
	stderr  *tailBuffer

	done     chan struct{} // closed when QEMU has exited and Wait's results are set
	exitCode int
	exitErr  error

	closeOnce sync.Once
	closeErr  error
}

// StartOption configures Start.
type StartOption func(*startOptions)

type startOptions struct {
	transcript  io.Writer
	consoleOpts []console.Option
}

// WithTranscript copies the serial console's raw output to w as it
// arrives, e.g. os.Stdout to watch the boot or a file to keep it.
func WithTranscript(w io.Writer) StartOption {
	return func(o *startOptions) { o.transcript = w }
}

// WithConsoleOptions passes options to the console.Console, e.g.
// console.WithLineEnding.
func WithConsoleOptions(opts ...console.Option) StartOption {
	return func(o *startOptions) { o.consoleOpts = append(o.consoleOpts, opts...) }
}

// waitDelay is how long QEMU gets to exit after SIGTERM, when ctx ends,
// before it is killed.
const waitDelay = 5 * time.Second

// Start starts QEMU with c's serial console on pipes wired to a
// console.Console (c.Interactive is ignored: use Run for a terminal).
// When ctx ends QEMU is stopped. Close the VM to kill QEMU if it still runs
// and remove its temporary files.
func Start(ctx context.Context, c Config, opts ...StartOption) (*VM, error) {
	var o startOptions
	for _, opt := range opts {
		opt(&o)
	}
	c.Interactive = false
	dir, err := os.MkdirTemp("", "rlbuild-qemu-")
	if err != nil {
		return nil, err
	}
	bin, args, err := c.Args(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// Our own pipes rather than cmd.StdoutPipe: exec's Wait closes those
	// and could cut off the last output before the console has read it.
	outR, outW, err := os.Pipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	vm := &VM{
		bin:    bin,
		args:   args,
		dir:    dir,
		stdin:  inW,
		stdout: outR,
		stderr: &tailBuffer{max: 64 << 10},
		done:   make(chan struct{}),
	}
	vm.cmd = command(ctx, bin, args, dir)
	vm.cmd.Stdin, vm.cmd.Stdout, vm.cmd.Stderr = inR, outW, vm.stderr
	err = vm.cmd.Start()
	// QEMU has its own copies now; ours must go so that its exit closes
	// the console's output.
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}

	copts := []console.Option{console.WithCloseCause(vm.closeCause)}
	if o.transcript != nil {
		copts = append(copts, console.WithTranscript(o.transcript))
	}
	vm.console = console.New(outR, inW, append(copts, o.consoleOpts...)...)
	go vm.wait(ctx)
	return vm, nil
}

// command returns the exec.Cmd for QEMU. On cancellation QEMU gets
// SIGTERM, which it handles by shutting down cleanly (restoring the
// terminal in interactive runs), and is killed only if it lingers. Its
// temporary files (snapshot overlays) go to dir, so they are removed with
// it even if QEMU is killed.
func command(ctx context.Context, bin string, args []string, dir string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = waitDelay
	setParentDeathSignal(cmd)
	return cmd
}

func (vm *VM) wait(ctx context.Context) {
	err := vm.cmd.Wait()
	// QEMU's exit closed the console's output pipe; let the console read
	// to the end so that Output() after Wait has everything.
	select {
	case <-vm.console.Closed():
	case <-time.After(2 * time.Second):
	}
	vm.exitCode, vm.exitErr = exitStatus(ctx, vm.bin, err, vm.stderr.String())
	close(vm.done)
}

// closeCause tells the console why its output ended: QEMU's exit.
func (vm *VM) closeCause() error {
	select {
	case <-vm.done:
	case <-time.After(3 * time.Second):
		return nil
	}
	if vm.exitErr != nil {
		return vm.exitErr
	}
	return fmt.Errorf("%s exited with status 0: the guest powered off or rebooted", filepath.Base(vm.bin))
}

// Console returns the VM's serial console.
func (vm *VM) Console() *console.Console { return vm.console }

// CommandLine returns the QEMU program and arguments, for logs.
func (vm *VM) CommandLine() []string { return append([]string{vm.bin}, vm.args...) }

// Wait waits for QEMU to exit and returns its exit status: 0 when the
// guest powered off or rebooted. A non-zero status or a signal is also
// returned as an *ExitError that includes QEMU's stderr, which says why
// it failed to start.
func (vm *VM) Wait() (exitCode int, err error) {
	<-vm.done
	return vm.exitCode, vm.exitErr
}

// Done returns a channel that is closed when QEMU has exited.
func (vm *VM) Done() <-chan struct{} { return vm.done }

// Kill kills QEMU at once. It is not an error if QEMU has already exited.
func (vm *VM) Kill() error {
	select {
	case <-vm.done:
		return nil
	default:
	}
	if err := vm.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// Close kills QEMU if it is still running, waits for it and removes its
// temporary files. It is safe to call more than once.
func (vm *VM) Close() error {
	vm.closeOnce.Do(func() {
		killErr := vm.Kill()
		<-vm.done
		vm.stdin.Close()
		vm.stdout.Close()
		vm.closeErr = errors.Join(killErr, os.RemoveAll(vm.dir))
	})
	return vm.closeErr
}

// Run runs QEMU interactively: the serial console (multiplexed with the
// QEMU monitor) is the terminal, as with Config.Interactive. It returns
// QEMU's exit status as Wait does; QEMU's stderr goes to the terminal.
func Run(ctx context.Context, c Config) (exitCode int, err error) {
	c.Interactive = true
	dir, err := os.MkdirTemp("", "rlbuild-qemu-")
	if err != nil {
		return -1, err
	}
	defer os.RemoveAll(dir)
	bin, args, err := c.Args(dir)
	if err != nil {
		return -1, err
	}
	cmd := command(ctx, bin, args, dir)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return -1, fmt.Errorf("starting %s: %w", bin, err)
	}
	return exitStatus(ctx, bin, cmd.Wait(), "")
}

// ExitError is QEMU's unsuccessful exit.
type ExitError struct {
	// Program is the QEMU binary's name.
	Program string
	// Code is the exit status, -1 if QEMU was killed by a signal.
	Code int
	// Signal is the signal that killed QEMU, if one did.
	Signal os.Signal
	// Stderr is the end of QEMU's standard error.
	Stderr string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s exited with status %d", e.Program, e.Code)
	if e.Signal != nil {
		msg = fmt.Sprintf("%s was killed by signal %v", e.Program, e.Signal)
	}
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

// exitStatus turns cmd.Wait's error into Wait's results.
func exitStatus(ctx context.Context, bin string, err error, stderr string) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return -1, fmt.Errorf("%s: %w", filepath.Base(bin), err)
	}
	xe := &ExitError{Program: filepath.Base(bin), Code: ee.ExitCode(), Stderr: stderr}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		xe.Signal = ws.Signal()
	}
	if ctx.Err() != nil {
		// We stopped QEMU because ctx ended: say so first.
		return xe.Code, fmt.Errorf("%w: stopped %w", ctx.Err(), xe)
	}
	return xe.Code, xe
}

// tailBuffer keeps the last max bytes written to it, safely for the
// goroutine exec copies stderr with and readers.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
