package sh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/shell"
)

// HostOptions configure a Host.
type HostOptions struct {
	// Registry holds the commands. Default: Builtins().
	Registry *Registry
	// Fallback, if set, is asked for a command the registry does not have
	// (the kernel's runner for programs in the initramfs).
	Fallback func(name string) (Command, bool)
	// Stdin, Stdout and Stderr are the descriptors 0, 1 and 2. Defaults:
	// no input, output discarded, Stderr to Stdout.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Debug adds a stack trace to the report of a panicking command.
	Debug bool
}

// A Host runs the interpreter's programs as commands in the kernel (see the
// package doc). Its descriptors are the console's (0-2), host files and
// in-memory pipes; a descriptor's file closes when no descriptor of the
// shell or of a running command refers to it any more.
type Host struct {
	reg      *Registry
	fallback func(name string) (Command, bool)
	debug    bool

	mu    sync.Mutex
	fds   map[int]*desc
	procs map[int]*proc
	next  int // the last pid given
}

// desc is an open file: what descriptors refer to.
type desc struct {
	r     io.Reader // nil: not readable
	w     io.Writer // nil: not writable
	close func() error
	refs  int // guarded by Host.mu
}

// proc is a running or ended command.
type proc struct {
	done chan struct{}
	ws   idl.WaitStatus
}

// NewHost returns a host with descriptors 0, 1 and 2.
func NewHost(o HostOptions) *Host {
	if o.Registry == nil {
		o.Registry = Builtins()
	}
	if o.Stdin == nil {
		o.Stdin = strings.NewReader("")
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = o.Stdout
	}
	h := &Host{reg: o.Registry, fallback: o.Fallback, debug: o.Debug, fds: map[int]*desc{}, procs: map[int]*proc{}}
	h.fds[0] = &desc{r: o.Stdin, refs: 1}
	h.fds[1] = &desc{w: o.Stdout, refs: 1}
	h.fds[2] = &desc{w: o.Stderr, refs: 1}
	return h
}

// errBadFd is the error of a descriptor that is not open.
var errBadFd = errors.New("bad file descriptor")

// install gives d the lowest free descriptor. h.mu is held.
func (h *Host) install(d *desc) int {
	fd := 0
	for h.fds[fd] != nil {
		fd++
	}
	d.refs++
	h.fds[fd] = d
	return fd
}

// release drops a reference to d, closing it with the last. h.mu is held.
func (d *desc) release() {
	if d.refs--; d.refs == 0 && d.close != nil {
		d.close()
	}
}

// Spawn implements shell.Host: it starts the command on a goroutine.
func (h *Host) Spawn(req shell.Spawn) (int, error) {
	name := req.Args[0]
	e, ok := h.reg.Lookup(name)
	cmd := e.Command
	if !ok && h.fallback != nil {
		cmd, ok = h.fallback(name)
	}
	if !ok {
		return 0, shell.ErrNotFound
	}
	if len(req.Caps) > 0 {
		return 0, fmt.Errorf("the kernel's shell passes no capabilities (its commands run in the kernel)")
	}
	h.mu.Lock()
	fds := make([]*desc, len(req.Fds))
	for i, fd := range req.Fds {
		if fd < 0 {
			continue
		}
		d := h.fds[fd]
		if d == nil {
			for _, d := range fds[:i] {
				if d != nil {
					d.release()
				}
			}
			h.mu.Unlock()
			return 0, fmt.Errorf("descriptor %d: %w", fd, errBadFd)
		}
		d.refs++
		fds[i] = d
	}
	h.next++
	pid := h.next
	pr := &proc{done: make(chan struct{})}
	h.procs[pid] = pr
	h.mu.Unlock()

	p := &Proc{Args: req.Args, Stdin: strings.NewReader(""), Stdout: badWriter{}, Stderr: badWriter{}, env: map[string]string{}}
	for i, d := range fds {
		switch {
		case d == nil:
		case i == 0 && d.r != nil:
			p.Stdin = d.r
		case i == 1 && d.w != nil:
			p.Stdout = d.w
		case i == 2 && d.w != nil:
			p.Stderr = d.w
		}
	}
	for _, kv := range req.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			p.env[k] = v
		}
	}
	go func() {
		pr.ws = h.run(cmd, p)
		h.mu.Lock()
		for _, d := range fds {
			if d != nil {
				d.release()
			}
		}
		h.mu.Unlock()
		close(pr.done)
	}()
	return pid, nil
}

// run runs cmd, turning a panic into a failure (as Rv6 reports a program
// that crashed).
func (h *Host) run(cmd Command, p *Proc) (ws idl.WaitStatus) {
	defer func() {
		if r := recover(); r != nil {
			ws = idl.WaitStatus{Status: 2, Reason: fmt.Sprintf("panic: %v", r)}
			if h.debug {
				ws.Reason += "\n" + string(debug.Stack())
			}
		}
	}()
	if cmd == nil {
		panic("nil command")
	}
	return idl.WaitStatus{Status: int32(cmd.Run(context.Background(), p) & 0xff), Exited: true}
}

// badWriter is a closed descriptor's.
type badWriter struct{}

func (badWriter) Write([]byte) (int, error) { return 0, errBadFd }

// Wait implements shell.Host.
func (h *Host) Wait(pid int) (idl.WaitStatus, error) {
	h.mu.Lock()
	pr := h.procs[pid]
	h.mu.Unlock()
	if pr == nil {
		return idl.WaitStatus{}, fmt.Errorf("wait %d: no such child", pid)
	}
	<-pr.done
	h.mu.Lock()
	delete(h.procs, pid)
	h.mu.Unlock()
	ws := pr.ws
	ws.Pid = int32(pid)
	return ws, nil
}

// Running implements shell.Host.
func (h *Host) Running() (map[int]bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	running := map[int]bool{}
	for pid, pr := range h.procs {
		select {
		case <-pr.done:
		default:
			running[pid] = true
		}
	}
	return running, nil
}

// Pipe implements shell.Host.
func (h *Host) Pipe() (int, int, error) {
	r, w := io.Pipe()
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.install(&desc{r: r, close: r.Close}), h.install(&desc{w: w, close: w.Close}), nil
}

// Open implements shell.Host: host files.
func (h *Host) Open(path string, flags int32) (int, error) {
	flag := os.O_RDONLY
	switch flags & idl.OAccMode {
	case idl.OWrOnly:
		flag = os.O_WRONLY
	case idl.ORdWr:
		flag = os.O_RDWR
	}
	for _, f := range []struct {
		idl int32
		os  int
	}{{idl.OCreate, os.O_CREATE}, {idl.OTrunc, os.O_TRUNC}, {idl.OAppend, os.O_APPEND}, {idl.OExcl, os.O_EXCL}} {
		if flags&f.idl != 0 {
			flag |= f.os
		}
	}
	f, err := os.OpenFile(path, flag, 0o666)
	if err != nil {
		return -1, err
	}
	d := &desc{close: f.Close}
	if flag&(os.O_WRONLY|os.O_RDWR) == 0 || flag&os.O_RDWR != 0 {
		d.r = f
	}
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		d.w = f
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.install(d), nil
}

// Close implements shell.Host.
func (h *Host) Close(fd int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := h.fds[fd]
	if d == nil {
		return fmt.Errorf("close %d: %w", fd, errBadFd)
	}
	delete(h.fds, fd)
	d.release()
	return nil
}

// File implements shell.Host.
func (h *Host) File(fd int) io.Writer {
	h.mu.Lock()
	defer h.mu.Unlock()
	if d := h.fds[fd]; d != nil && d.w != nil {
		return d.w
	}
	return badWriter{}
}

// ReadFile implements shell.Host.
func (h *Host) ReadFile(path string) ([]byte, error) { return os.ReadFile(path) }

// Getwd implements shell.Host.
func (h *Host) Getwd() (string, error) { return os.Getwd() }

// Chdir implements shell.Host.
func (h *Host) Chdir(dir string) error { return os.Chdir(dir) }

// Pid implements shell.Host.
func (h *Host) Pid() int { return os.Getpid() }

// Programs implements shell.Host: the registry's commands.
func (h *Host) Programs() []string {
	var names []string
	for _, e := range h.reg.Entries() {
		names = append(names, e.Name)
	}
	return names
}

// Command implements shell.Host: every command is a program here.
func (h *Host) Command([]string, []int) (int, error) { return 0, shell.ErrNotFound }

// Caps implements shell.Host: the kernel's shell holds no capability to
// pass (its commands are the kernel's own).
func (h *Host) Caps() []string { return nil }

// Eval runs src (a line or a whole script) on a new shell over h and
// returns its status.
func Eval(h *Host, src string) int {
	return shell.New(h, shell.Options{}).RunSource(src, "")
}

// Console runs an interactive shell over h, reading lines from in and
// writing the prompt to out, until exit runs or the input ends. It returns
// the status, and io.EOF (or the read error) when the input ended.
func Console(h *Host, in *LineReader, out io.Writer, env []string) (int, error) {
	s := shell.New(h, shell.Options{Env: env})
	var readErr error
	read := func(prompt string) (string, error) {
		for {
			io.WriteString(out, prompt)
			line, err := in.ReadLine()
			if errors.Is(err, ErrLineTooLong) {
				fmt.Fprintf(h.File(2), "sh: line too long (more than %d bytes); ignored\n", MaxLine)
				continue
			}
			if err != nil {
				if err == io.EOF {
					io.WriteString(out, "\n") // leave the prompt's line
				}
				readErr = err
				return "", io.EOF
			}
			return line, nil
		}
	}
	status := s.RunInput(read, true)
	if _, ok := s.Exited(); ok {
		return status, nil
	}
	if readErr == nil {
		readErr = io.EOF
	}
	return status, readErr
}
