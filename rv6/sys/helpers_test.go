package sys_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/internal/testdomains/ramdisk"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/loader"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/rv6/sys"
)

// The test programs: every process of these tests runs the program "fn"
// (kind "prog/fn", as rv6/ulib registers programs), whose argv[1] names a
// Go function of the test, registered in fns.
var (
	fns   sync.Map // key -> func(*tproc) int32
	fnSeq atomic.Int64
)

func init() {
	domain.Register("prog/fn", func(ctx *domain.Context) (idl.Program, error) {
		s, err := domain.Import[idl.Sys](ctx, "sys")
		if err != nil {
			return nil, err
		}
		return &program{ctx: ctx, sys: s}, nil
	})
}

type program struct {
	ctx *domain.Context
	sys idl.Sys
}

func (pg *program) Main(start idl.ProcStart) (int32, error) {
	args := strings.Split(strings.TrimSuffix(start.Argv, "\x00"), "\x00")
	if len(args) < 2 {
		return 100, nil
	}
	fn, ok := fns.Load(args[1])
	if !ok {
		return 101, nil
	}
	p := &tproc{ctx: pg.ctx, sys: pg.sys, pid: start.Pid, args: args[2:],
		buf: rref.New(pg.ctx.Heap(), idl.IOBuf{})}
	return fn.(func(*tproc) int32)(p), nil
}

// fn registers f as a program and returns its SpawnReq argv.
func fn(f func(*tproc) int32, args ...string) string {
	key := fmt.Sprintf("f%d", fnSeq.Add(1))
	fns.Store(key, f)
	return strings.Join(append([]string{"fn", key}, args...), "\x00") + "\x00"
}

// tproc is a test program's view of its process: idl.Sys with []byte.
type tproc struct {
	ctx  *domain.Context
	sys  idl.Sys
	pid  int32
	args []string
	buf  rref.RRef[idl.IOBuf]
}

func (p *tproc) write(fd int32, b []byte) (int, error) {
	done := 0
	for done < len(b) {
		k := copy(p.buf.Get()[:], b[done:])
		n, err := p.sys.Write(fd, p.buf.Borrow(), int32(k))
		done += int(n)
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

func (p *tproc) read(fd int32, n int) ([]byte, error) {
	b, k, err := p.sys.Read(fd, p.buf, int32(n))
	if b.Valid() {
		p.buf = b
	}
	return bytes.Clone(p.buf.Get()[:k]), err
}

func (p *tproc) readAll(fd int32) ([]byte, error) {
	var out []byte
	for {
		b, err := p.read(fd, idl.IOSize)
		out = append(out, b...)
		if err != nil || len(b) == 0 {
			return out, err
		}
	}
}

// spawn starts f in a child with descriptors fds.
func (p *tproc) spawn(f func(*tproc) int32, fds ...int32) (int32, error) {
	req := idl.SpawnReq{Prog: "fn", Argv: fn(f), NFds: int32(len(fds))}
	copy(req.Fds[:], fds)
	return p.sys.Spawn(req)
}

// system is an Rv6 domain on a ramdisk domain, with a test loader and
// console.
type system struct {
	t      *testing.T
	m      *domain.Manager
	disk   *domain.Domain
	rv6    *domain.Domain
	r      idl.Rv6
	cons   *testConsole
	loader *loader.Loader // the kernel's
}

type options struct {
	monitor idl.Monitor
	disk    *domain.Domain // an existing disk (a remount)
	m       *domain.Manager
	noMount bool
}

func newSystem(t *testing.T, o options) *system {
	t.Helper()
	s := &system{t: t, m: o.m, disk: o.disk}
	if s.m == nil {
		s.m = domain.NewManager()
		t.Cleanup(s.m.Close)
	}
	s.cons = newTestConsole()
	t.Cleanup(s.cons.close)
	s.loader = loader.New(s.m)
	if s.disk == nil {
		d, err := s.m.Create(ramdisk.Kind, domain.GrantDevice(ramdisk.GrantConfig, ramdisk.Config{Blocks: 2048}))
		if err != nil {
			t.Fatal(err)
		}
		s.disk = d
	}
	grants := []domain.CreateOption{
		domain.Grant(sys.GrantDisk, s.disk),
		domain.Grant(sys.GrantLoader, s.m.Export(s.loader)),
		domain.Grant(sys.GrantConsole, s.m.Export(s.cons)),
	}
	if o.monitor != nil {
		grants = append(grants, domain.Grant(sys.GrantMonitor, s.m.Export(o.monitor)))
	}
	d, err := s.m.Create(sys.Kind, grants...)
	if err != nil {
		t.Fatal(err)
	}
	s.rv6 = d
	if s.r, err = domain.Connect[idl.Rv6](s.m.Kernel(), d); err != nil {
		t.Fatal(err)
	}
	if !o.noMount {
		st, err := s.r.Mount(idl.Rv6Config{Format: true, Device: "ramdisk"})
		if err != nil {
			t.Fatal(err)
		}
		if st.BlockSize != 4096 || st.Device != "ramdisk" || st.FreeBlocks == 0 {
			t.Fatalf("Mount: %+v", st)
		}
	}
	return s
}

// run runs f as a process on the console (pid 1 for the first) and
// returns how it ended.
func (s *system) run(f func(*tproc) int32) idl.WaitStatus {
	s.t.Helper()
	ws, err := s.r.Run(idl.SpawnReq{Prog: "fn", Argv: fn(f)})
	if err != nil {
		s.t.Fatalf("Run: %v", err)
	}
	return ws
}

// mustRun runs f and fails the test unless it exits with 0.
func (s *system) mustRun(f func(*tproc) int32) {
	s.t.Helper()
	if ws := s.run(f); !ws.Exited || ws.Status != 0 {
		s.t.Fatalf("the process ended with %+v", ws)
	}
}

// testConsole is an in-memory console: input the test feeds, output it
// reads.
type testConsole struct {
	in     chan []byte // nil slice: end of input
	closed chan struct{}
	once   sync.Once

	mu  sync.Mutex
	out bytes.Buffer
	raw bool
}

func newTestConsole() *testConsole {
	return &testConsole{in: make(chan []byte, 16), closed: make(chan struct{})}
}

func (c *testConsole) close() { c.once.Do(func() { close(c.closed) }) }

func (c *testConsole) Read(buf rref.RRef[idl.IOBuf], n int32) (rref.RRef[idl.IOBuf], int32, error) {
	select {
	case b := <-c.in:
		return buf, int32(copy(buf.Get()[:n], b)), nil
	case <-c.closed: // the end of input for good, as kernel/console says it
		return buf, 0, io.EOF
	}
}

func (c *testConsole) Write(buf rref.Borrow[idl.IOBuf], n int32) (int32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out.Write(buf.Get()[:n])
	return n, nil
}

func (c *testConsole) SetRaw(raw bool) error {
	c.mu.Lock()
	c.raw = raw
	c.mu.Unlock()
	return nil
}

func (c *testConsole) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

// testMonitor answers every command with its arguments.
type testMonitor struct{}

func (testMonitor) Run(argv string) (idl.MonitorResult, error) {
	var r idl.MonitorResult
	r.N = int32(copy(r.Out[:], "monitor: "+strings.ReplaceAll(strings.TrimSuffix(argv, "\x00"), "\x00", " ")+"\n"))
	r.Status = 3
	return r, nil
}

// is reports whether err is target, for checks inside programs.
func is(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want %v", what, err, target)
	}
}

// ok fails the test if err is not nil.
func ok(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
	}
}
