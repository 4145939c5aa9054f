//rl:domain

// Package ulib is the library Rv6 programs are written against: what libc
// and xv6's ulib are to C programs. A program is a Go package that calls
// Register from its init function; every process running it is a domain of
// its own (kind "prog/NAME"), created by the kernel's loader and granted the
// process's syscalls (idl.Sys) under "sys". ulib turns that capability into
// Go's usual shapes: Files that are io.Readers and io.Writers, errors that
// errors.Is recognizes (rv6/fs/errno), []string arguments.
//
// Data crosses into the Rv6 domain without a copy: each process owns one
// IOBuf on the shared heap, which it moves into Read (and gets back) and
// lends to Write. Copies happen only between the program's own slices and
// that buffer.
//
// A Proc is not safe for concurrent use: a program with threads of its own
// (Proc.Go) gives each one its own Proc (Proc.Fork).
//
// # Capabilities
//
// A process holds only the capabilities its spawner passed it
// (SpawnOptions.Caps; idl.CapAdmin and friends): Caps lists them, Cap
// imports one into the program's domain, and Spawn passes some on, when the
// program names them. A program that needs one it was not given says so
// (ErrNoCap), and how to give it (the shell's grant).
package ulib

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
)

// KindPrefix is the prefix of the domain kinds programs register as.
const KindPrefix = "prog/"

// Exit statuses by convention.
const (
	StatusOK    = 0
	StatusError = 1
	StatusUsage = 2
)

// Main is a program's entry point; it returns the exit status.
type Main func(p *Proc) int

// Register registers a program under name, from the program package's init
// function; needs declares the capabilities it needs (NeedsInet).
func Register(name string, main Main, needs ...Need) {
	domain.Register(KindPrefix+name, func(ctx *domain.Context) (idl.Program, error) {
		sys, err := domain.Import[idl.Sys](ctx, "sys")
		if err != nil {
			return nil, err
		}
		return &program{ctx: ctx, sys: sys, main: main}, nil
	})
	declare(name, needs)
}

type program struct {
	ctx  *domain.Context
	sys  idl.Sys
	main Main
}

// exitRequest is the panic value with which Exit unwinds the program's own
// stack when the Rv6 domain has not ended it yet (it always has: Exit's
// syscall terminates the process's domain).
type exitRequest struct{ status int }

func (pr *program) Main(start idl.ProcStart) (int32, error) {
	p := &Proc{
		ctx:  pr.ctx,
		sys:  pr.sys,
		Pid:  int(start.Pid),
		Args: SplitNul(start.Argv),
		env:  SplitNul(start.Env),
		caps: SplitNul(start.Caps),

		stacks: &stacks{},
	}
	p.Stdin, p.Stdout, p.Stderr = p.NewFile(0, "stdin"), p.NewFile(1, "stdout"), p.NewFile(2, "stderr")
	status := pr.main(p)
	p.stacks.closeAll()
	return int32(status), nil
}

// SplitNul splits a NUL-terminated list (SpawnReq.Argv, Env).
func SplitNul(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\x00"), "\x00")
}

// JoinNul makes a NUL-terminated list.
func JoinNul(xs []string) string {
	var b strings.Builder
	for _, x := range xs {
		b.WriteString(x)
		b.WriteByte(0)
	}
	return b.String()
}

// A Proc is a running program's view of its process: arguments,
// environment, standard files and syscalls.
type Proc struct {
	ctx *domain.Context
	sys idl.Sys
	buf rref.RRef[idl.IOBuf]

	Pid  int
	Args []string // Args[0] is the program's name
	env  []string
	caps []string

	stacks *stacks // the network stacks imported (shared with Forks)

	Stdin, Stdout, Stderr *File
}

// ioBuf is the process's I/O buffer, allocated at the first read or write
// (or again after a failed call took it): 64 KiB of the shared heap that a
// process doing no I/O through ulib never pays for (issue 16: it was most
// of the cost of spawning one).
func (p *Proc) ioBuf() rref.RRef[idl.IOBuf] {
	if !p.buf.Valid() {
		p.buf = rref.New(p.ctx.Heap(), idl.IOBuf{})
	}
	return p.buf
}

// Sys is the raw syscall capability.
func (p *Proc) Sys() idl.Sys { return p.sys }

// Name is the program's name (Args[0]).
func (p *Proc) Name() string {
	if len(p.Args) == 0 {
		return "?"
	}
	return p.Args[0]
}

// Fork returns a Proc for another thread of the program: the same process,
// with its own I/O buffer.
func (p *Proc) Fork() *Proc {
	q := *p
	q.env = append([]string(nil), p.env...)
	q.buf = rref.RRef[idl.IOBuf]{} // its own, at its first read or write
	q.Stdin, q.Stdout, q.Stderr = q.NewFile(0, "stdin"), q.NewFile(1, "stdout"), q.NewFile(2, "stderr")
	return &q
}

// Heap is the program domain's account on the shared heap, for the RRefs
// it moves through the capabilities it holds (packets, block requests).
func (p *Proc) Heap() *rref.Account { return p.ctx.Heap() }

// Go runs fn on a new thread of the program's domain (Context.Spawn);
// give it its own Proc (Fork).
func (p *Proc) Go(name string, fn func()) { p.ctx.Spawn(name, fn) }

// Logf writes to the kernel's domain log.
func (p *Proc) Logf(format string, args ...any) { p.ctx.Logf(format, args...) }

// Environ is the environment, NAME=value.
func (p *Proc) Environ() []string { return append([]string(nil), p.env...) }

// Getenv returns the value of the environment variable name, "" if unset.
func (p *Proc) Getenv(name string) string {
	v, _ := p.LookupEnv(name)
	return v
}

// LookupEnv returns the value of name and whether it is set.
func (p *Proc) LookupEnv(name string) (string, bool) {
	for i := len(p.env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(p.env[i], "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// Setenv sets name in the process's own environment (what Spawn passes on
// by default).
func (p *Proc) Setenv(name, value string) {
	p.Unsetenv(name)
	p.env = append(p.env, name+"="+value)
}

// Unsetenv removes name from the environment.
func (p *Proc) Unsetenv(name string) {
	out := p.env[:0]
	for _, kv := range p.env {
		if k, _, _ := strings.Cut(kv, "="); k != name {
			out = append(out, kv)
		}
	}
	p.env = out
}

// Printf writes to standard output.
func (p *Proc) Printf(format string, args ...any) { fmt.Fprintf(p.Stdout, format, args...) }

// Println writes to standard output.
func (p *Proc) Println(args ...any) { fmt.Fprintln(p.Stdout, args...) }

// Errorf writes "NAME: message" and a newline to standard error.
func (p *Proc) Errorf(format string, args ...any) {
	fmt.Fprintf(p.Stderr, "%s: %s\n", p.Name(), fmt.Sprintf(format, args...))
}

// Fatalf reports like Errorf and exits with status 1.
func (p *Proc) Fatalf(format string, args ...any) {
	p.Errorf(format, args...)
	p.Exit(StatusError)
}

// Exit ends the process with status; it does not return.
func (p *Proc) Exit(status int) {
	p.sys.Exit(int32(status))
	// The Rv6 domain ended this domain: the next kernel call unwinds the
	// thread. Should it ever not have, unwind the program's own stack.
	p.ctx.Check()
	panic(exitRequest{status})
}

// Open opens path with flags (idl.ORdOnly, idl.OCreate, ...).
func (p *Proc) Open(path string, flags int32) (*File, error) {
	fd, err := p.sys.Open(path, flags)
	if err != nil {
		return nil, err
	}
	return p.NewFile(fd, path), nil
}

// Create creates or truncates path for writing.
func (p *Proc) Create(path string) (*File, error) {
	return p.Open(path, idl.OWrOnly|idl.OCreate|idl.OTrunc)
}

// ReadFile reads all of path.
func (p *Proc) ReadFile(path string) ([]byte, error) {
	f, err := p.Open(path, idl.ORdOnly)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// WriteFile writes data to path, creating or truncating it.
func (p *Proc) WriteFile(path string, data []byte) error {
	f, err := p.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Stat describes path.
func (p *Proc) Stat(path string) (idl.FileStat, error) { return p.sys.Stat(path) }

// Mkdir makes a directory.
func (p *Proc) Mkdir(path string) error { return p.sys.Mkdir(path) }

// Rmdir removes an empty directory.
func (p *Proc) Rmdir(path string) error { return p.sys.Rmdir(path) }

// Unlink removes a name.
func (p *Proc) Unlink(path string) error { return p.sys.Unlink(path) }

// Link makes newpath another name of oldpath.
func (p *Proc) Link(oldpath, newpath string) error { return p.sys.Link(oldpath, newpath) }

// Rename renames oldpath to newpath, replacing it.
func (p *Proc) Rename(oldpath, newpath string) error { return p.sys.Rename(oldpath, newpath) }

// Chdir changes the working directory.
func (p *Proc) Chdir(path string) error { return p.sys.Chdir(path) }

// Getwd returns the working directory.
func (p *Proc) Getwd() (string, error) { return p.sys.Getcwd() }

// Sync commits the file system.
func (p *Proc) Sync() error { return p.sys.Sync() }

// Statfs describes the file system.
func (p *Proc) Statfs() (idl.FSStat, error) { return p.sys.Statfs() }

// ReadDir lists directory path, in the directory's order.
func (p *Proc) ReadDir(path string) ([]idl.DirEnt, error) {
	f, err := p.Open(path, idl.ORdOnly|idl.ODirectory)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir()
}

// Pipe makes a pipe: its read end and its write end.
func (p *Proc) Pipe() (r, w *File, err error) {
	rfd, wfd, err := p.sys.Pipe()
	if err != nil {
		return nil, nil, err
	}
	return p.NewFile(rfd, "pipe"), p.NewFile(wfd, "pipe"), nil
}

// SpawnOptions are Spawn's optional settings.
type SpawnOptions struct {
	// Fds are the caller's descriptors that become the child's 0, 1, 2,
	// ... (-1: closed). nil: the caller's 0, 1 and 2.
	Fds []int
	// Env is the child's environment; nil: the caller's (Environ).
	Env []string
	// Dir is the child's working directory; "": the caller's.
	Dir string
	// Caps names the capabilities of the caller the child gets (none
	// unless named; each must be one the caller holds).
	Caps []string
}

// Spawn starts program prog with args (args[0] is its name, usually prog)
// and returns its pid.
func (p *Proc) Spawn(prog string, args []string, opts SpawnOptions) (int, error) {
	req := idl.SpawnReq{Prog: prog, Argv: JoinNul(args), Cwd: opts.Dir, Caps: JoinNul(opts.Caps)}
	env := opts.Env
	if env == nil {
		env = p.env
	}
	req.Env = JoinNul(env)
	fds := opts.Fds
	if fds == nil {
		fds = []int{0, 1, 2}
	}
	if len(fds) > idl.MaxSpawnFds {
		return 0, fmt.Errorf("spawn %s: %d descriptors, at most %d", prog, len(fds), idl.MaxSpawnFds)
	}
	for i, fd := range fds {
		req.Fds[i] = int32(fd)
	}
	req.NFds = int32(len(fds))
	pid, err := p.sys.Spawn(req)
	return int(pid), err
}

// Wait waits for child pid (-1: any child) to end.
func (p *Proc) Wait(pid int) (idl.WaitStatus, error) { return p.sys.Wait(int32(pid)) }

// Run spawns prog and waits for it: its exit status and how it ended.
func (p *Proc) Run(prog string, args []string, opts SpawnOptions) (idl.WaitStatus, error) {
	pid, err := p.Spawn(prog, args, opts)
	if err != nil {
		return idl.WaitStatus{}, err
	}
	return p.Wait(pid)
}

// Kill ends process pid.
func (p *Proc) Kill(pid int) error { return p.sys.Kill(int32(pid)) }

// Uptime is the time since Rv6 started.
func (p *Proc) Uptime() time.Duration {
	ns, err := p.sys.Uptime()
	if err != nil {
		return 0
	}
	return time.Duration(ns)
}

// Sleep sleeps for d, or until the process is killed.
func (p *Proc) Sleep(d time.Duration) error { return p.sys.Sleep(int64(d)) }

// Procs lists every process.
func (p *Proc) Procs() ([]idl.ProcInfo, error) {
	var out []idl.ProcInfo
	after := int32(0)
	for {
		b, err := p.sys.Procs(after)
		if err != nil {
			return out, err
		}
		if b.N == 0 {
			return out, nil
		}
		out = append(out, b.Procs[:b.N]...)
		after = b.Procs[b.N-1].Pid
	}
}

// Monitor runs a read-only view of the domain kernel's monitor (domains,
// lspci, ifconfig), its output going to standard output, and returns its
// status. The commands that change the system need the admin capability
// (Admin).
func (p *Proc) Monitor(args []string) (int, error) {
	st, err := p.sys.Monitor(JoinNul(args), 1)
	return int(st), err
}

// CapAdmin is the name of the admin capability (idl.CapAdmin).
const CapAdmin = idl.CapAdmin

// ErrNoCap is what Cap wraps for a capability the process was not given.
var ErrNoCap = errors.New("capability not granted")

// Caps lists the capabilities the process holds.
func (p *Proc) Caps() []string { return append([]string(nil), p.caps...) }

// Holds reports whether the process holds the capability name.
func (p *Proc) Holds(name string) bool {
	for _, c := range p.caps {
		if c == name {
			return true
		}
	}
	return false
}

// Cap imports the capability name, of IDL interface I, into the program's
// domain. Each call binds a new one: import once. A capability the
// process was not given is an error wrapping ErrNoCap that says how to
// give it.
func Cap[I any](p *Proc, name string) (I, error) {
	var zero I
	if !p.Holds(name) {
		return zero, fmt.Errorf("%w: %s (the shell passes it with grant %s %s ...)", ErrNoCap, name, name, p.Name())
	}
	return domain.Import[I](p.ctx, name)
}

// Admin runs argv on the kernel's monitor through the admin capability,
// whatever the command, its output going to standard output, and returns
// its status. admin is the capability (Cap[idl.Monitor](p, CapAdmin)).
func (p *Proc) Admin(admin idl.Monitor, args []string) (int, error) {
	res, err := admin.Run(JoinNul(args))
	if err != nil {
		return 0, err
	}
	n := min(max(int(res.N), 0), len(res.Out))
	if _, err := p.Stdout.Write(res.Out[:n]); err != nil {
		return 0, err
	}
	return int(res.Status), nil
}

// A File is an open descriptor of the process.
type File struct {
	p    *Proc
	fd   int32
	name string
}

// NewFile makes a File of descriptor fd, which the process already has.
func (p *Proc) NewFile(fd int32, name string) *File { return &File{p: p, fd: fd, name: name} }

// Fd is the descriptor.
func (f *File) Fd() int { return int(f.fd) }

// Name is the path it was opened with.
func (f *File) Name() string { return f.name }

// Read reads up to len(b) bytes.
func (f *File) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n := min(len(b), idl.IOSize)
	buf, got, err := f.p.sys.Read(f.fd, f.p.ioBuf(), int32(n))
	f.p.buf = buf // invalid if the call failed and took it: the next use makes another
	if err != nil {
		return 0, err
	}
	if got == 0 {
		return 0, io.EOF
	}
	return copy(b, f.p.buf.Get()[:got]), nil
}

// Write writes all of b (or fails).
func (f *File) Write(b []byte) (int, error) {
	done := 0
	for done < len(b) {
		n := copy(f.p.ioBuf().Get()[:], b[done:])
		w, err := f.p.sys.Write(f.fd, f.p.buf.Borrow(), int32(n))
		done += int(w)
		if err != nil {
			return done, err
		}
		if w == 0 {
			return done, io.ErrShortWrite
		}
	}
	return done, nil
}

// WriteString writes s.
func (f *File) WriteString(s string) (int, error) {
	done := 0
	for done < len(s) {
		n := copy(f.p.ioBuf().Get()[:], s[done:])
		w, err := f.p.sys.Write(f.fd, f.p.buf.Borrow(), int32(n))
		done += int(w)
		if err != nil {
			return done, err
		}
		if w == 0 {
			return done, io.ErrShortWrite
		}
	}
	return done, nil
}

// Seek sets the offset (io.Seeker's whence values are idl's).
func (f *File) Seek(off int64, whence int) (int64, error) {
	return f.p.sys.Seek(f.fd, off, int32(whence))
}

// Stat describes the file.
func (f *File) Stat() (idl.FileStat, error) { return f.p.sys.Fstat(f.fd) }

// Truncate changes the file's size.
func (f *File) Truncate(size int64) error { return f.p.sys.Ftruncate(f.fd, size) }

// Sync makes the file's data durable (fsync).
func (f *File) Sync() error { return f.p.sys.Fsync(f.fd) }

// Close closes the descriptor.
func (f *File) Close() error { return f.p.sys.Close(f.fd) }

// Isatty reports whether the file is the console.
func (f *File) Isatty() bool {
	ok, err := f.p.sys.Isatty(f.fd)
	return err == nil && ok
}

// SetRaw switches the console between raw and line mode.
func (f *File) SetRaw(raw bool) error { return f.p.sys.SetRaw(f.fd, raw) }

// ReadDir returns the rest of the directory's entries.
func (f *File) ReadDir() ([]idl.DirEnt, error) {
	var out []idl.DirEnt
	for {
		b, err := f.p.sys.ReadDir(f.fd)
		if err != nil {
			return out, err
		}
		if b.N == 0 {
			return out, nil
		}
		out = append(out, b.Ents[:b.N]...)
	}
}

// ErrUsage is what programs return (wrapped) for bad arguments.
var ErrUsage = errors.New("usage")
