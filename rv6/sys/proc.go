package sys

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/rv6/fs"
	"github.com/rlgo/redleaf/rv6/fs/errno"
)

// Exit statuses of processes that did not exit.
const (
	StatusFailed = 128 + 6 // the program panicked (as SIGABRT)
	StatusKilled = 128 + 9 // Kill (as SIGKILL)
)

// initPid is the pid orphans are given to.
const initPid = 1

// A process is one Rv6 process, and its idl.Sys: the domain of its program
// holds a capability to it. Its methods (syscall.go, proc.go) are that
// process's syscalls.
type process struct {
	rv    *Rv6
	pid   int32
	prog  string
	argv  string
	env   string
	args  string   // argv, space-separated, for the listing
	start int64    // ns of uptime
	caps  []string // the capabilities its domain was granted (see caps.go)

	stop chan struct{} // closed when the process starts ending: wakes its blocked calls
	done chan struct{} // closed when it is a zombie (its status set)

	blocked atomic.Int32 // calls waiting in this domain (for "sleeping")
	domID   atomic.Uint32

	// mu guards the descriptors, the working directory and the domain.
	mu      sync.Mutex
	fds     []*ofile // nil once ended
	cwd     *fs.Cwd  // nil once ended
	handle  uint64   // the loader's handle of the domain, once loaded
	loaded  bool
	unloads bool // ending: whoever loads the domain unloads it

	// Guarded by rv.mu.
	ppid     int32 // 0: the kernel's (Run) or nobody's
	awaited  bool  // Run waits for it: not reaped when it ends parentless
	ending   bool
	zombie   bool
	status   idl.WaitStatus
	children chan struct{} // closed and replaced when a child becomes a zombie
}

func killedStatus() idl.WaitStatus {
	return idl.WaitStatus{Status: StatusKilled, Killed: true}
}

// spawn makes a process running req.Prog, child of parent (nil: the
// kernel's, reaped by Run), with descriptors fds (held for it: spawn takes
// them over, and releases them on failure) and working directory cwd
// (likewise).
func (r *Rv6) spawn(parent *process, req idl.SpawnReq, fds []*ofile, cwd *fs.Cwd) (*process, error) {
	fail := func(err error) (*process, error) {
		for _, o := range fds {
			if o != nil {
				o.release()
			}
		}
		cwd.Close()
		return nil, err
	}
	if req.Prog == "" {
		return fail(&errno.PathError{Op: "spawn", Path: req.Prog, Err: errno.ENOENT})
	}
	ok, err := r.loader.Has(req.Prog)
	if err != nil {
		return fail(fmt.Errorf("spawn %s: %w", req.Prog, err))
	}
	if !ok {
		return fail(&errno.PathError{Op: "spawn", Path: req.Prog, Err: errno.ENOENT})
	}
	caps, err := r.checkCaps(parent, req)
	if err != nil {
		return fail(err)
	}
	p := &process{rv: r, prog: req.Prog, argv: req.Argv, env: req.Env, args: joinArgs(req.Argv), caps: caps,
		start: r.uptime(), stop: make(chan struct{}), done: make(chan struct{}),
		fds: fds, cwd: cwd, children: make(chan struct{})}
	r.mu.Lock()
	switch {
	case r.down:
		r.mu.Unlock()
		return fail(fmt.Errorf("spawn %s: rv6 is shut down: %w", req.Prog, errno.EINVAL))
	case parent != nil && parent.ending:
		r.mu.Unlock()
		return fail(fmt.Errorf("spawn %s: %w", req.Prog, errno.EINTR))
	}
	p.pid = r.nextPid
	r.nextPid++
	if parent != nil {
		p.ppid = parent.pid
	} else {
		p.awaited = true
	}
	r.procs[p.pid] = p
	r.mu.Unlock()

	h, prog, err := r.load(p)
	if err != nil {
		// Unless a Kill got there first, the process never was: forget it.
		r.mu.Lock()
		mine := !p.ending
		if mine {
			p.ending = true
			close(p.stop)
			delete(r.procs, p.pid)
		}
		r.mu.Unlock()
		if mine {
			p.mu.Lock()
			p.fds, p.cwd = nil, nil
			p.mu.Unlock()
			return fail(fmt.Errorf("spawn %s: %w", req.Prog, err))
		}
		return nil, fmt.Errorf("spawn %s: %w", req.Prog, err)
	}
	if id, err := r.loader.DomainID(h); err == nil {
		p.domID.Store(id)
	}
	p.mu.Lock()
	if p.unloads {
		p.mu.Unlock()
		r.unload(p, h) // killed while loading: it ended already
		return p, nil
	}
	p.handle, p.loaded = h, true
	p.mu.Unlock()
	r.ctx.Spawn(fmt.Sprintf("proc.%d", p.pid), func() { r.runMain(p, prog) })
	return p, nil
}

// runMain is the thread of process p: it runs the program and ends the
// process when Main returns or fails.
func (r *Rv6) runMain(p *process, prog idl.Program) {
	st, err := prog.Main(idl.ProcStart{Pid: p.pid, Argv: p.argv, Env: p.env, Caps: joinNul(p.caps)})
	var ws idl.WaitStatus
	var fe *domain.FailedError
	switch {
	case err == nil:
		ws = idl.WaitStatus{Status: st & 0xff, Exited: true}
	case errors.As(err, &fe) && errors.Is(fe, domain.ErrTerminated):
		ws = killedStatus()
	case fe != nil:
		ws = idl.WaitStatus{Status: StatusFailed, Reason: fe.Error()}
	default: // Main returned an error: the program's way of failing
		if st == 0 {
			st = 1
		}
		ws = idl.WaitStatus{Status: st & 0xff, Exited: true, Reason: err.Error()}
	}
	r.end(p, ws)
}

// end ends p with status ws, unless it is ending already (see the package
// doc). It returns when p is a zombie (or reaped).
func (r *Rv6) end(p *process, ws idl.WaitStatus) {
	r.mu.Lock()
	if p.ending {
		r.mu.Unlock()
		return
	}
	p.ending = true
	r.mu.Unlock()

	p.mu.Lock()
	p.unloads = true
	h, loaded := p.handle, p.loaded
	fds, cwd := p.fds, p.cwd
	p.fds, p.cwd = nil, nil
	p.mu.Unlock()
	// Unload first, then wake its blocked calls: a woken thread returns
	// into a dead domain and unwinds, it never runs the program again.
	if loaded {
		r.unload(p, h)
	}
	close(p.stop)
	for _, o := range fds {
		if o != nil {
			o.release()
		}
	}
	if cwd != nil {
		cwd.Close()
	}
	if ws.Reason != "" && !ws.Exited {
		r.ctx.Logf("process %d (%s) failed: %s", p.pid, p.prog, ws.Reason)
	}

	ws.Pid = p.pid
	r.mu.Lock()
	p.status, p.zombie = ws, true
	heir := r.procs[initPid]
	if heir == p || heir != nil && heir.zombie {
		heir = nil
	}
	for _, c := range r.procs {
		if c.ppid != p.pid || c == p {
			continue
		}
		if heir != nil {
			c.ppid = heir.pid
			if c.zombie {
				heir.notify()
			}
		} else {
			c.ppid = 0
			if c.zombie && !c.awaited {
				delete(r.procs, c.pid)
			}
		}
	}
	if parent := r.procs[p.ppid]; p.ppid != 0 && parent != nil {
		parent.notify()
	} else if !p.awaited {
		delete(r.procs, p.pid)
	}
	close(p.done)
	r.mu.Unlock()
}

// unload reclaims p's domain.
func (r *Rv6) unload(p *process, h uint64) {
	if err := r.loader.Unload(h); err != nil {
		r.ctx.Logf("process %d (%s): unloading its domain: %v", p.pid, p.prog, err)
	}
}

// notify wakes p's Waits. r.mu is held.
func (p *process) notify() {
	close(p.children)
	p.children = make(chan struct{})
}

// block waits for ch, or until p ends (EINTR) or this domain dies (the
// thread unwinds).
func (p *process) block(ch <-chan struct{}) error {
	p.blocked.Add(1)
	defer p.blocked.Add(-1)
	select {
	case <-ch:
		return nil
	case <-p.stop:
		return errno.EINTR
	case <-p.rv.ctx.Done():
		p.rv.ctx.Check()
		return errno.EINTR
	}
}

func (r *Rv6) uptime() int64 { return time.Since(r.start).Nanoseconds() }

// joinArgs turns NUL-ended arguments into a space-separated line.
func joinArgs(argv string) string {
	return strings.Join(splitNul(argv), " ")
}

// joinNul makes a list of NUL-ended strings.
func joinNul(xs []string) string {
	var b strings.Builder
	for _, x := range xs {
		b.WriteString(x)
		b.WriteByte(0)
	}
	return b.String()
}

// splitNul splits NUL-ended strings (a last one without its NUL counts).
func splitNul(s string) []string {
	s = strings.TrimSuffix(s, "\x00")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}

// Spawn starts a process (see idl.Sys).
func (p *process) Spawn(req idl.SpawnReq) (int32, error) {
	if req.NFds < 0 || req.NFds > idl.MaxSpawnFds {
		return -1, fmt.Errorf("spawn %s: %d descriptors: %w", req.Prog, req.NFds, errno.EINVAL)
	}
	fds := make([]*ofile, req.NFds)
	p.mu.Lock()
	var err error
	for i := range fds {
		fd := req.Fds[i]
		if fd == -1 {
			continue
		}
		if fd < 0 || int(fd) >= len(p.fds) || p.fds[fd] == nil {
			err = fmt.Errorf("spawn %s: descriptor %d (the child's %d): %w", req.Prog, fd, i, errno.EBADF)
			break
		}
		fds[i] = p.fds[fd]
		fds[i].refs.Add(1)
	}
	var cwd *fs.Cwd
	if err == nil {
		if p.cwd == nil {
			err = fmt.Errorf("spawn %s: %w", req.Prog, errno.EINTR)
		} else if cwd, err = p.cwd.Clone(); err != nil {
			err = fmt.Errorf("spawn %s: %w", req.Prog, err)
		}
	}
	p.mu.Unlock()
	if err == nil && req.Cwd != "" {
		if err = cwd.Chdir(req.Cwd); err != nil {
			cwd.Close()
			err = fmt.Errorf("spawn %s: %w", req.Prog, err)
		}
	}
	if err != nil {
		for _, o := range fds {
			if o != nil {
				o.release()
			}
		}
		return -1, err
	}
	c, err := p.rv.spawn(p, req, fds, cwd)
	if err != nil {
		return -1, err
	}
	return c.pid, nil
}

// Wait waits for a child to end and reaps it (see idl.Sys).
func (p *process) Wait(pid int32) (idl.WaitStatus, error) {
	r := p.rv
	for {
		r.mu.Lock()
		found := false
		for _, c := range r.procs {
			if c.ppid != p.pid || c == p || pid != -1 && c.pid != pid {
				continue
			}
			found = true
			if c.zombie {
				delete(r.procs, c.pid)
				ws := c.status
				r.mu.Unlock()
				return ws, nil
			}
		}
		ch := p.children
		r.mu.Unlock()
		if !found {
			if pid == -1 {
				return idl.WaitStatus{}, fmt.Errorf("wait: %w", errno.ECHILD)
			}
			return idl.WaitStatus{}, fmt.Errorf("wait %d: %w", pid, errno.ECHILD)
		}
		if err := p.block(ch); err != nil {
			return idl.WaitStatus{}, fmt.Errorf("wait: %w", err)
		}
	}
}

// Exit ends the process (see the package doc): the calling thread unwinds
// when it returns into the program's domain, which is dead by then.
func (p *process) Exit(status int32) error {
	p.rv.end(p, idl.WaitStatus{Status: status & 0xff, Exited: true})
	return nil
}

// Kill ends process pid (see the package doc).
func (p *process) Kill(pid int32) error {
	r := p.rv
	r.mu.Lock()
	q := r.procs[pid]
	if q == nil || q.ending {
		r.mu.Unlock()
		return fmt.Errorf("kill %d: %w", pid, errno.ESRCH)
	}
	r.mu.Unlock()
	if pid == initPid {
		return fmt.Errorf("kill %d: init cannot be killed: %w", pid, errno.EPERM)
	}
	r.end(q, killedStatus())
	return nil
}

// Getpid returns the process's pid.
func (p *process) Getpid() (int32, error) { return p.pid, nil }

// Uptime is the time since Rv6 started, in nanoseconds.
func (p *process) Uptime() (int64, error) { return p.rv.uptime(), nil }

// Sleep sleeps ns nanoseconds, or until the process ends (EINTR).
func (p *process) Sleep(ns int64) error {
	if ns < 0 {
		return fmt.Errorf("sleep %d: %w", ns, errno.EINVAL)
	}
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	p.blocked.Add(1)
	defer p.blocked.Add(-1)
	select {
	case <-t.C:
		return nil
	case <-p.stop:
		return fmt.Errorf("sleep: %w", errno.EINTR)
	case <-p.rv.ctx.Done():
		p.rv.ctx.Check()
		return fmt.Errorf("sleep: %w", errno.EINTR)
	}
}

// Procs lists the processes after pid after (see idl.Sys).
func (p *process) Procs(after int32) (idl.ProcBatch, error) {
	var b idl.ProcBatch
	r := p.rv
	r.mu.Lock()
	pids := make([]int32, 0, len(r.procs))
	for pid := range r.procs {
		if pid > after {
			pids = append(pids, pid)
		}
	}
	sort.Slice(pids, func(i, j int) bool { return pids[i] < pids[j] })
	for _, pid := range pids {
		if int(b.N) == len(b.Procs) {
			break
		}
		q := r.procs[pid]
		state := "running"
		switch {
		case q.ending:
			state = "zombie"
		case q.blocked.Load() > 0:
			state = "sleeping"
		}
		b.Procs[b.N] = idl.ProcInfo{Pid: q.pid, PPid: q.ppid, State: state, Name: q.prog,
			Args: q.args, Domain: q.domID.Load(), Start: q.start}
		b.N++
	}
	r.mu.Unlock()
	return b, nil
}

// Monitor runs a read-only view of the kernel's monitor (what the monitor
// granted as "monitor" runs), writing its output to descriptor out.
func (p *process) Monitor(argv string, out int32) (int32, error) {
	if p.rv.monitor == nil {
		return -1, fmt.Errorf("monitor: no monitor granted to rv6: %w", errno.ENOSYS)
	}
	o, err := p.get(out)
	if err != nil {
		return -1, fdErr("monitor", out, err)
	}
	defer o.release()
	res, err := p.rv.monitor.Run(argv)
	if err != nil {
		return -1, fmt.Errorf("monitor: %w", err)
	}
	n := min(max(int(res.N), 0), len(res.Out))
	if _, err := p.writeAll(o, res.Out[:n]); err != nil {
		return res.Status, fdErr("monitor", out, err)
	}
	return res.Status, nil
}
