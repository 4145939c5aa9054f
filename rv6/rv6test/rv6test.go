// Package rv6test boots Rv6 inside a test: a domain Manager, the RAM-disk
// driver domain (drivers/ramdisk, over system's Memory) as "disk",
// the Rv6 domain (rv6/sys) granted it, the kernel's program loader
// (kernel/loader), a console the test types into and reads, and a small
// monitor (system/monitor with lspci, kill and domains). The file system is
// formatted at boot. Tests then run programs as the kernel runs init
// (idl.Rv6.Run): one process on the console, its output captured, holding
// the capabilities of System.Caps (none unless a test sets them).
//
// Rv6 is granted the harness monitor's read-only views as "monitor", the
// whole monitor as the capability admin, and the capabilities of
// Options.Grants.
//
// It is test-support code, not a domain. The programs a test runs must be
// registered in its binary: import them (rv6/progs/all for every one).
//
//	s := rv6test.Boot(t)
//	out, st := s.Run(t, "echo", "hello")
//	out = s.Script(t, "mkdir /d\nls /\n")
//
// The console's output goes through kernel/console (its Write is the
// kernel's); its input is the harness's own queue, since kernel/console's
// end of input is final and each Run needs an end of input of its own.
// Input a process leaves unread stays queued for the next process that
// reads the console, as on a real console.
package rv6test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/rlgo/redleaf/drivers/ramdisk"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/console"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/loader"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/rv6/sys"
	"github.com/rlgo/redleaf/rv6/ulib"
	"github.com/rlgo/redleaf/system"
	"github.com/rlgo/redleaf/system/monitor"
	"github.com/rlgo/redleaf/system/sh"
)

// DefaultDiskSize is the RAM disk's size unless Options say otherwise.
const DefaultDiskSize = 64 << 20

// Options configure Boot.
type Options struct {
	// DiskSize is the RAM disk's size in bytes (0: DefaultDiskSize).
	DiskSize int64
	// Env is the environment of the processes Run starts (nil:
	// HOME=/).
	Env []string
	// Monitor adds commands to the monitor's registry (lspci, kill,
	// domains); nil adds none.
	Monitor func(r *sh.Registry)
	// NoMonitor boots without a monitor: Sys.Monitor fails, and there is
	// no admin capability.
	NoMonitor bool
	// Grants are more capabilities Rv6 may hand out, by name
	// ("blk:ramdisk", "nic:x"): what each is bound to.
	Grants map[string]domain.Provider
	// GrantDisk lets Rv6 hand out its own RAM disk as blk:ramdisk.
	GrantDisk bool
	// Manager is the Manager to boot in, for Grants bound to another
	// system's domains (a capability binds domains of one manager only).
	// nil: a new one, closed when the test ends.
	Manager *domain.Manager
}

// A System is a booted Rv6.
type System struct {
	M    *domain.Manager
	Rv6  idl.Rv6
	Disk *system.Memory
	// FS is what Mount returned.
	FS idl.FSStat
	// Caps are the capabilities the processes Run starts hold (names Rv6
	// was granted: admin unless NoMonitor, and Options.Grants'). Default:
	// none.
	Caps []string

	env  []string
	cons *testConsole

	runMu sync.Mutex // one Run at a time: they share the console

	logMu sync.Mutex
	log   bytes.Buffer // the kernel log
}

// Boot boots Rv6 for the test and shuts it down when the test ends. The
// kernel log is printed if the test fails.
func Boot(t testing.TB, opts ...Options) *System {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.DiskSize == 0 {
		o.DiskSize = DefaultDiskSize
	}
	s := &System{env: o.Env}
	if s.env == nil {
		s.env = []string{"HOME=/"}
	}
	s.M = o.Manager
	diskName := "ramdisk"
	if s.M != nil {
		diskName = "rv6test-ramdisk" // the other system has its own "ramdisk"
	} else {
		s.M = domain.NewManager(domain.WithLog(s.logf))
		t.Cleanup(s.M.Close)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kernel log:\n%s", s.Log())
		}
	})
	mem, err := system.NewMemory(o.DiskSize)
	if err != nil {
		t.Fatal(err)
	}
	s.Disk = mem
	disk, err := s.M.Create(ramdisk.Kind, domain.Name(diskName), domain.GrantDevice(ramdisk.GrantMemory, mem))
	if err != nil {
		t.Fatalf("rv6test: starting the RAM disk: %v", err)
	}
	s.cons = newTestConsole()
	t.Cleanup(s.cons.close)
	grants := []domain.CreateOption{
		domain.Name("rv6"),
		domain.Grant(sys.GrantDisk, disk),
		domain.Grant(sys.GrantLoader, s.M.Export(idl.Loader(loader.New(s.M)))),
		domain.Grant(sys.GrantConsole, s.M.Export(idl.Console(s.cons))),
	}
	var caps []string
	if !o.NoMonitor {
		reg := sh.NewRegistry()
		s.registerMonitor(reg)
		if o.Monitor != nil {
			o.Monitor(reg)
		}
		grants = append(grants, domain.Grant(sys.GrantMonitor, s.M.Export(idl.Monitor(monitor.Views(reg)))),
			domain.Grant(sys.GrantCapPrefix+idl.CapAdmin, s.M.Export(idl.Monitor(monitor.Admin(reg)))))
		caps = append(caps, idl.CapAdmin)
	}
	if o.GrantDisk {
		grants = append(grants, domain.Grant(sys.GrantCapPrefix+"blk:ramdisk", disk))
		caps = append(caps, "blk:ramdisk")
	}
	for name, p := range o.Grants {
		grants = append(grants, domain.Grant(sys.GrantCapPrefix+name, p))
		caps = append(caps, name)
	}
	grants = append(grants, domain.GrantDevice(sys.GrantCaps, caps))
	d, err := s.M.Create(sys.Kind, grants...)
	if err != nil {
		t.Fatalf("rv6test: starting Rv6: %v", err)
	}
	s.Rv6, err = domain.Connect[idl.Rv6](s.M.Kernel(), d)
	if err != nil {
		t.Fatalf("rv6test: connecting to Rv6: %v", err)
	}
	s.FS, err = s.Rv6.Mount(idl.Rv6Config{Format: true, Device: "ramdisk"})
	if err != nil {
		t.Fatalf("rv6test: mount: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Rv6.Shutdown(); err != nil {
			t.Errorf("rv6test: shutdown: %v", err)
		}
	})
	return s
}

func (s *System) logf(format string, args ...any) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(&s.log, format, args...)
	if !strings.HasSuffix(format, "\n") {
		s.log.WriteByte('\n')
	}
}

// Log is the kernel log so far.
func (s *System) Log() string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()
}

// Run runs prog with args (args[0] is prog) on the console and returns
// its console output, standard output and standard error together, and
// how it ended. Nothing is typed: a process that reads the console waits
// (use RunInput).
func (s *System) Run(t testing.TB, prog string, args ...string) (string, idl.WaitStatus) {
	t.Helper()
	return s.run(t, nil, prog, args...)
}

// RunInput is Run with input typed on the console, then an end of input
// (^D). The process should read all of it: what it leaves is read by the
// next process that reads the console.
func (s *System) RunInput(t testing.TB, input, prog string, args ...string) (string, idl.WaitStatus) {
	t.Helper()
	return s.run(t, []byte(input), prog, args...)
}

func (s *System) run(t testing.TB, input []byte, prog string, args ...string) (string, idl.WaitStatus) {
	t.Helper()
	s.runMu.Lock()
	defer s.runMu.Unlock()
	s.cons.take()
	if input != nil {
		if len(input) > 0 {
			s.cons.type_(input)
		}
		s.cons.type_(nil)
	}
	st, err := s.Rv6.Run(idl.SpawnReq{Prog: prog, Argv: ulib.JoinNul(append([]string{prog}, args...)), Env: ulib.JoinNul(s.env), Caps: ulib.JoinNul(s.Caps)})
	out := s.cons.take()
	if err != nil {
		t.Fatalf("rv6test: run %s %q: %v\n%s", prog, args, err, out)
	}
	return out, st
}

// MustRun is Run that fails the test unless the process exits with status
// 0.
func (s *System) MustRun(t testing.TB, prog string, args ...string) string {
	t.Helper()
	out, st := s.Run(t, prog, args...)
	if !st.Exited || st.Status != 0 {
		t.Fatalf("%s %s: %+v\n%s", prog, strings.Join(args, " "), st, out)
	}
	return out
}

// Script feeds lines to a shell (sh, reading the console, then the end of
// input) and returns what the console showed; the shell must exit.
func (s *System) Script(t testing.TB, lines string) string {
	t.Helper()
	out, st := s.RunInput(t, lines, "sh")
	if !st.Exited {
		t.Fatalf("sh did not exit: %s\n%s", ulibDescribe(st), out)
	}
	return out
}

// Sh runs `sh -c src` and returns its output and status.
func (s *System) Sh(t testing.TB, src string) (string, idl.WaitStatus) {
	t.Helper()
	return s.Run(t, "sh", "-c", src)
}

// WriteFile writes data (no NUL bytes: it goes as an argument) to path on
// the Rv6 file system, through a process of the harness's own program
// rv6test-put.
func (s *System) WriteFile(t testing.TB, path, data string) {
	t.Helper()
	out, st := s.Run(t, putProg, path, data)
	if !st.Exited || st.Status != 0 {
		t.Fatalf("rv6test: writing %s: %+v\n%s", path, st, out)
	}
}

// ReadFile reads path on the Rv6 file system.
func (s *System) ReadFile(t testing.TB, path string) string {
	t.Helper()
	out, st := s.Run(t, getProg, path)
	if !st.Exited || st.Status != 0 {
		t.Fatalf("rv6test: reading %s: %+v\n%s", path, st, out)
	}
	return out
}

func ulibDescribe(st idl.WaitStatus) string {
	switch {
	case st.Exited:
		return fmt.Sprintf("exit status %d", st.Status)
	case st.Killed:
		return "killed"
	}
	return "failed: " + st.Reason
}

// The harness's own programs: enough to put files in place and read them
// back whatever programs the test binary has.
const (
	putProg = "rv6test-put" // rv6test-put PATH DATA: DATA to PATH
	getProg = "rv6test-get" // rv6test-get PATH: PATH to standard output
)

func init() {
	ulib.Register(putProg, func(p *ulib.Proc) int {
		if err := p.WriteFile(p.Args[1], []byte(p.Args[2])); err != nil {
			p.Errorf("%v", err)
			return 1
		}
		return 0
	})
	ulib.Register(getProg, func(p *ulib.Proc) int {
		data, err := p.ReadFile(p.Args[1])
		if err != nil {
			p.Errorf("%v", err)
			return 1
		}
		p.Stdout.Write(data)
		return 0
	})
}

// registerMonitor adds the harness monitor's commands: the views lspci (a
// fixed listing) and domains (lists them), and kill NAME (terminates a
// domain), for admin only.
func (s *System) registerMonitor(reg *sh.Registry) {
	reg.RegisterView("lspci", "list the PCI devices (a fixed test listing)", sh.Func(func(_ context.Context, p *sh.Proc) int {
		p.Printf("%s", LspciOutput)
		return 0
	}))
	reg.Register("kill", "terminate a domain: kill NAME", sh.Func(func(_ context.Context, p *sh.Proc) int {
		if len(p.Args) != 2 {
			p.Errorf("usage: kill NAME")
			return 2
		}
		d := s.M.Lookup(p.Args[1])
		if d == nil {
			p.Errorf("%s: no such domain", p.Args[1])
			return 1
		}
		s.M.Kill(d)
		p.Printf("killed %s\n", p.Args[1])
		return 0
	}))
	reg.RegisterView("domains", "list the domains", sh.Func(func(_ context.Context, p *sh.Proc) int {
		for _, in := range s.M.List() {
			p.Printf("%s %d %s %s\n", in.Name, in.ID, in.Kind, in.State)
		}
		return 0
	}))
}

// LspciOutput is what the harness monitor's lspci prints.
const LspciOutput = "00:00.0 8086:1237 host bridge (rv6test)\n00:04.0 1b36:0010 nvme -\n"

// testConsole is the console of the test system: input typed by the
// harness (a nil chunk is one end of input, as ^D), output through the
// kernel's console service into a buffer.
type testConsole struct {
	in     chan []byte
	closed chan struct{}
	once   sync.Once
	kern   *console.Console // output

	mu   sync.Mutex
	out  bytes.Buffer
	rest []byte // of a chunk longer than a Read took
}

func newTestConsole() *testConsole {
	c := &testConsole{in: make(chan []byte, 1024), closed: make(chan struct{})}
	c.kern = console.New(strings.NewReader(""), lockedWriter{c}, nil)
	return c
}

type lockedWriter struct{ c *testConsole }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	return w.c.out.Write(b)
}

func (c *testConsole) close() { c.once.Do(func() { close(c.closed) }) }

// type_ queues input; nil is an end of input.
func (c *testConsole) type_(b []byte) {
	for len(b) > idl.IOSize {
		c.in <- b[:idl.IOSize]
		b = b[idl.IOSize:]
	}
	c.in <- b
}

// Read implements idl.Console.
func (c *testConsole) Read(buf rref.RRef[idl.IOBuf], n int32) (rref.RRef[idl.IOBuf], int32, error) {
	n = max(0, min(n, idl.IOSize))
	c.mu.Lock()
	if len(c.rest) > 0 {
		k := copy(buf.Get()[:n], c.rest)
		c.rest = c.rest[k:]
		c.mu.Unlock()
		return buf, int32(k), nil
	}
	c.mu.Unlock()
	select {
	case b := <-c.in:
		k := copy(buf.Get()[:n], b)
		if k < len(b) {
			c.mu.Lock()
			c.rest = b[k:]
			c.mu.Unlock()
		}
		return buf, int32(k), nil
	case <-c.closed:
		return buf, 0, errConsoleClosed
	}
}

var errConsoleClosed = fmt.Errorf("rv6test: console closed")

// Write implements idl.Console.
func (c *testConsole) Write(buf rref.Borrow[idl.IOBuf], n int32) (int32, error) {
	return c.kern.Write(buf, n)
}

// SetRaw implements idl.Console.
func (c *testConsole) SetRaw(bool) error { return nil }

// take returns the output so far and forgets it.
func (c *testConsole) take() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.out.String()
	c.out.Reset()
	return s
}

// A Proc is a process started with Start, running on the console.
type Proc struct {
	s    *System
	done chan struct{}
	st   idl.WaitStatus
	err  error
}

// Start starts prog on the console with input typed (no end of input:
// type more with Type) and returns at once, for processes that run until
// they are stopped, such as init. Until Wait returns, no other Run can use
// the console.
func (s *System) Start(t testing.TB, input, prog string, args ...string) *Proc {
	t.Helper()
	s.runMu.Lock()
	s.cons.take()
	if input != "" {
		s.cons.type_([]byte(input))
	}
	p := &Proc{s: s, done: make(chan struct{})}
	req := idl.SpawnReq{Prog: prog, Argv: ulib.JoinNul(append([]string{prog}, args...)), Env: ulib.JoinNul(s.env), Caps: ulib.JoinNul(s.Caps)}
	go func() {
		defer close(p.done)
		p.st, p.err = s.Rv6.Run(req)
	}()
	return p
}

// Type types input on the console; nil is an end of input.
func (p *Proc) Type(input []byte) { p.s.cons.type_(input) }

// Output is the console's output since the process started.
func (p *Proc) Output() string {
	p.s.cons.mu.Lock()
	defer p.s.cons.mu.Unlock()
	return p.s.cons.out.String()
}

// Done is closed when the process has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits for the process to end and returns its output and how it
// ended.
func (p *Proc) Wait() (string, idl.WaitStatus, error) {
	<-p.done
	out := p.s.cons.take()
	p.s.runMu.Unlock()
	return out, p.st, p.err
}

// Shutdown shuts Rv6 down (idl.Rv6.Shutdown): every process is killed and
// the file system unmounted. The test's end does it too.
func (s *System) Shutdown(t testing.TB) {
	t.Helper()
	if err := s.Rv6.Shutdown(); err != nil {
		t.Fatalf("rv6test: shutdown: %v", err)
	}
}
