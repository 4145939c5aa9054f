package sys_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/sys"
)

func TestFiles(t *testing.T) {
	s := newSystem(t, options{})
	s.mustRun(func(p *tproc) int32 {
		if pid, _ := p.sys.Getpid(); pid != 1 {
			t.Errorf("the first process is pid %d", pid)
		}
		fd, err := p.sys.Open("/a", idl.OCreate|idl.ORdWr)
		ok(t, "create /a", err)
		if fd != 3 {
			t.Errorf("the first file is fd %d, want 3 (0..2 are the console)", fd)
		}
		_, err = p.write(fd, []byte("hello, world"))
		ok(t, "write", err)
		off, err := p.sys.Seek(fd, 7, idl.SeekSet)
		if err != nil || off != 7 {
			t.Errorf("seek: %d, %v", off, err)
		}
		b, err := p.read(fd, 100)
		if err != nil || string(b) != "world" {
			t.Errorf("read after seek: %q, %v", b, err)
		}
		b, err = p.read(fd, 100)
		if err != nil || len(b) != 0 {
			t.Errorf("read at the end: %q, %v; want 0 bytes", b, err)
		}
		if off, _ := p.sys.Seek(fd, -5, idl.SeekEnd); off != 7 {
			t.Errorf("seek from the end: %d", off)
		}
		_, err = p.sys.Seek(fd, -100, idl.SeekCur)
		is(t, "seek before the start", err, errno.EINVAL)
		st, err := p.sys.Fstat(fd)
		if err != nil || st.Size != 12 || st.Type != idl.FileTypeFile || st.Nlink != 1 {
			t.Errorf("fstat: %+v, %v", st, err)
		}
		ok(t, "ftruncate", p.sys.Ftruncate(fd, 5))
		ok(t, "fsync", p.sys.Fsync(fd))
		ok(t, "close", p.sys.Close(fd))
		is(t, "close twice", p.sys.Close(fd), errno.EBADF)
		_, err = p.read(fd, 1)
		is(t, "read a closed fd", err, errno.EBADF)
		_, err = p.read(77, 1)
		is(t, "read a bad fd", err, errno.EBADF)

		// Errors of open, with the path in the message.
		_, err = p.sys.Open("/nope", idl.ORdOnly)
		is(t, "open a missing file", err, errno.ENOENT)
		if err != nil && !strings.Contains(err.Error(), "/nope") {
			t.Errorf("the error %q does not name the path", err)
		}
		_, err = p.sys.Open("/a", idl.OCreate|idl.OExcl|idl.OWrOnly)
		is(t, "O_EXCL", err, errno.EEXIST)
		_, err = p.sys.Open("/a", idl.ORdOnly|idl.ODirectory)
		is(t, "O_DIRECTORY on a file", err, errno.ENOTDIR)
		_, err = p.sys.Open("/a", idl.OAccMode)
		is(t, "a bad access mode", err, errno.EINVAL)

		// Access modes.
		ro, _ := p.sys.Open("/a", idl.ORdOnly)
		_, err = p.write(ro, []byte("x"))
		is(t, "write a read-only fd", err, errno.EBADF)
		is(t, "ftruncate a read-only fd", p.sys.Ftruncate(ro, 0), errno.EINVAL)
		b, _ = p.read(ro, 100)
		if string(b) != "hello" {
			t.Errorf("after ftruncate to 5: %q", b)
		}
		wo, _ := p.sys.Open("/a", idl.OWrOnly|idl.OAppend)
		_, err = p.read(wo, 1)
		is(t, "read a write-only fd", err, errno.EBADF)
		p.write(wo, []byte("+1"))
		p.sys.Seek(wo, 0, idl.SeekSet)
		p.write(wo, []byte("+2")) // O_APPEND: at the end whatever the offset
		p.sys.Seek(ro, 0, idl.SeekSet)
		if b, _ = p.readAll(ro); string(b) != "hello+1+2" {
			t.Errorf("after appends: %q", b)
		}
		tr, _ := p.sys.Open("/a", idl.OWrOnly|idl.OTrunc)
		if st, _ := p.sys.Fstat(tr); st.Size != 0 {
			t.Errorf("O_TRUNC left %d bytes", st.Size)
		}
		for _, fd := range []int32{ro, wo, tr} {
			p.sys.Close(fd)
		}

		// Directories, names and the working directory.
		ok(t, "mkdir", p.sys.Mkdir("/d"))
		is(t, "mkdir twice", p.sys.Mkdir("/d"), errno.EEXIST)
		ok(t, "chdir", p.sys.Chdir("/d"))
		if wd, err := p.sys.Getcwd(); wd != "/d" || err != nil {
			t.Errorf("getcwd: %q, %v", wd, err)
		}
		for i := range 70 {
			fd, err := p.sys.Open(fmt.Sprintf("f%02d", i), idl.OCreate|idl.OWrOnly)
			ok(t, "create in /d", err)
			p.sys.Close(fd)
		}
		dfd, err := p.sys.Open(".", idl.ORdOnly|idl.ODirectory)
		ok(t, "open .", err)
		var names []string
		for {
			b, err := p.sys.ReadDir(dfd)
			ok(t, "readdir", err)
			if b.N == 0 || err != nil {
				break
			}
			for _, e := range b.Ents[:b.N] {
				names = append(names, e.Name)
				if e.Type != idl.FileTypeFile {
					t.Errorf("%s has type %d", e.Name, e.Type)
				}
			}
		}
		if len(names) != 70 {
			t.Errorf("readdir listed %d entries, want 70", len(names))
		}
		p.sys.Seek(dfd, 0, idl.SeekSet)
		if b, _ := p.sys.ReadDir(dfd); b.N != idl.DirBatchSize {
			t.Errorf("after a rewind readdir gives %d entries", b.N)
		}
		_, err = p.read(dfd, 10)
		is(t, "read a directory", err, errno.EISDIR)
		_, err = p.sys.ReadDir(0)
		is(t, "readdir the console", err, errno.ENOTDIR)
		p.sys.Close(dfd)
		ok(t, "link", p.sys.Link("f00", "/linked"))
		if st, err := p.sys.Stat("/linked"); err != nil || st.Nlink != 2 {
			t.Errorf("stat of a link: %+v, %v", st, err)
		}
		ok(t, "rename", p.sys.Rename("/linked", "/renamed"))
		_, err = p.sys.Stat("/linked")
		is(t, "stat a renamed name", err, errno.ENOENT)
		ok(t, "unlink", p.sys.Unlink("/renamed"))
		is(t, "rmdir a full directory", p.sys.Rmdir("/d"), errno.ENOTEMPTY)
		ok(t, "chdir ..", p.sys.Chdir(".."))
		is(t, "chdir to a file", p.sys.Chdir("/a"), errno.ENOTDIR)
		ok(t, "mkdir /e", p.sys.Mkdir("e"))
		ok(t, "rmdir /e", p.sys.Rmdir("e"))
		if st, err := p.sys.Stat("/d"); err != nil || st.Type != idl.FileTypeDir {
			t.Errorf("stat /d: %+v, %v", st, err)
		}

		// The console and pipes are not files.
		if tty, err := p.sys.Isatty(1); !tty || err != nil {
			t.Errorf("isatty(1) = %v, %v", tty, err)
		}
		_, err = p.sys.Seek(1, 0, idl.SeekSet)
		is(t, "seek the console", err, errno.ESPIPE)
		fd, _ = p.sys.Open("/a", idl.ORdOnly)
		if tty, _ := p.sys.Isatty(fd); tty {
			t.Errorf("a file is a tty")
		}
		is(t, "setraw a file", p.sys.SetRaw(fd, true), errno.ENOTTY)
		_, err = p.sys.Isatty(99)
		is(t, "isatty of a bad fd", err, errno.EBADF)

		ok(t, "sync", p.sys.Sync())
		fs, err := p.sys.Statfs()
		if err != nil || fs.Inodes == 0 || fs.FreeInodes >= fs.Inodes || fs.Commits == 0 {
			t.Errorf("statfs: %+v, %v", fs, err)
		}
		// A buffer the process does not own is refused, not a crash.
		_, _, err = p.sys.Read(fd, rref.RRef[idl.IOBuf]{}, 1)
		is(t, "read into no buffer", err, errno.EINVAL)
		_, err = p.sys.Write(1, p.buf.Borrow(), idl.IOSize+1)
		is(t, "write too much", err, errno.EINVAL)
		return 0
	})
}

func TestDupSharesOffset(t *testing.T) {
	s := newSystem(t, options{})
	s.mustRun(func(p *tproc) int32 {
		fd, _ := p.sys.Open("/f", idl.OCreate|idl.ORdWr)
		d, err := p.sys.Dup(fd)
		ok(t, "dup", err)
		p.write(fd, []byte("one,"))
		p.write(d, []byte("two,"))
		d2, err := p.sys.Dup2(fd, 9)
		if d2 != 9 || err != nil {
			t.Errorf("dup2: %d, %v", d2, err)
		}
		p.write(9, []byte("three,"))
		// A child given the description shares its offset too.
		pid, err := p.spawn(func(c *tproc) int32 {
			_, err := c.write(0, []byte("child,"))
			ok(t, "the child's write", err)
			if _, err := c.read(1, 1); !errors.Is(err, errno.EBADF) {
				t.Errorf("the child's fd 1 should be closed: %v", err)
			}
			return 0
		}, fd)
		ok(t, "spawn", err)
		ws, err := p.sys.Wait(pid)
		if err != nil || !ws.Exited || ws.Status != 0 {
			t.Errorf("wait: %+v, %v", ws, err)
		}
		p.write(d, []byte("four"))
		p.sys.Close(fd)
		p.sys.Close(9)
		off, _ := p.sys.Seek(d, 0, idl.SeekCur)
		p.sys.Seek(d, 0, idl.SeekSet)
		b, _ := p.readAll(d)
		if string(b) != "one,two,three,child,four" || off != int64(len(b)) {
			t.Errorf("the shared file holds %q (offset %d)", b, off)
		}
		// dup2 onto an open descriptor closes it first.
		other, _ := p.sys.Open("/g", idl.OCreate|idl.OWrOnly)
		p.sys.Dup2(d, other)
		if st, _ := p.sys.Fstat(other); st.Size != int64(len(b)) {
			t.Errorf("dup2 did not replace the descriptor: %+v", st)
		}
		_, err = p.sys.Dup2(55, 3)
		is(t, "dup2 of a bad fd", err, errno.EBADF)
		return 0
	})
}

// pattern is the data the pipe tests move.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>9)
	}
	return b
}

func TestPipes(t *testing.T) {
	s := newSystem(t, options{})
	data := pattern(300 << 10)
	s.mustRun(func(p *tproc) int32 {
		r, w, err := p.sys.Pipe()
		ok(t, "pipe", err)
		producer, err := p.spawn(func(c *tproc) int32 {
			if _, err := c.write(1, data); err != nil {
				t.Errorf("producer: %v", err)
				return 1
			}
			return 0
		}, -1, w)
		ok(t, "spawn the producer", err)
		consumer, err := p.spawn(func(c *tproc) int32 {
			b, err := c.readAll(0) // ends at EOF: the producer's end closes when it exits
			if err != nil || !bytes.Equal(b, data) {
				t.Errorf("consumer: %d bytes (want %d), %v", len(b), len(data), err)
				return 1
			}
			return 0
		}, r)
		ok(t, "spawn the consumer", err)
		p.sys.Close(r)
		p.sys.Close(w)
		for range 2 {
			ws, err := p.sys.Wait(-1)
			if err != nil || !ws.Exited || ws.Status != 0 || ws.Pid != producer && ws.Pid != consumer {
				t.Errorf("wait: %+v, %v", ws, err)
			}
		}
		_, err = p.sys.Wait(-1)
		is(t, "wait with no children", err, errno.ECHILD)

		// EPIPE: nobody reads.
		r, w, _ = p.sys.Pipe()
		p.sys.Close(r)
		_, err = p.write(w, []byte("x"))
		is(t, "write to a pipe without readers", err, errno.EPIPE)
		p.sys.Close(w)

		// EPIPE for a writer blocked on a full pipe when its reader exits.
		r, w, _ = p.sys.Pipe()
		writer, _ := p.spawn(func(c *tproc) int32 {
			_, err := c.write(1, make([]byte, 1<<20))
			if errors.Is(err, errno.EPIPE) {
				return 7
			}
			t.Errorf("writer: %v, want EPIPE", err)
			return 1
		}, -1, w)
		reader, _ := p.spawn(func(c *tproc) int32 {
			b, err := c.read(0, 1000)
			if len(b) == 0 || err != nil {
				t.Errorf("reader: %d bytes, %v", len(b), err)
			}
			return 0
		}, r)
		p.sys.Close(r)
		p.sys.Close(w)
		if ws, _ := p.sys.Wait(reader); ws.Status != 0 {
			t.Errorf("reader: %+v", ws)
		}
		if ws, _ := p.sys.Wait(writer); ws.Status != 7 {
			t.Errorf("writer: %+v, want status 7 (EPIPE)", ws)
		}
		// A pipe within one process; Fstat of a pipe.
		r, w, _ = p.sys.Pipe()
		p.write(w, []byte("abc"))
		if st, _ := p.sys.Fstat(r); st.Type != idl.FileTypePipe || st.Size != 3 {
			t.Errorf("fstat of a pipe: %+v", st)
		}
		_, err = p.write(r, []byte("x"))
		is(t, "write the read end", err, errno.EBADF)
		p.sys.Close(w)
		if b, _ := p.readAll(r); string(b) != "abc" {
			t.Errorf("read %q", b)
		}
		return 0
	})
}

func TestSpawnWaitExit(t *testing.T) {
	s := newSystem(t, options{})
	var after atomic.Bool
	s.mustRun(func(p *tproc) int32 {
		pid, _ := p.spawn(func(c *tproc) int32 { return 42 })
		ws, err := p.sys.Wait(pid)
		if err != nil || ws != (idl.WaitStatus{Pid: pid, Status: 42, Exited: true}) {
			t.Errorf("wait: %+v, %v", ws, err)
		}
		_, err = p.sys.Wait(pid)
		is(t, "wait for a reaped child", err, errno.ECHILD)
		pid, _ = p.spawn(func(c *tproc) int32 {
			c.sys.Exit(3)
			after.Store(true) // Exit does not return
			return 0
		})
		ws, err = p.sys.Wait(-1)
		if err != nil || ws != (idl.WaitStatus{Pid: pid, Status: 3, Exited: true}) {
			t.Errorf("wait after Exit: %+v, %v", ws, err)
		}
		_, err = p.sys.Spawn(idl.SpawnReq{Prog: "no-such-program", Argv: "x\x00"})
		is(t, "spawn an unknown program", err, errno.ENOENT)
		if err != nil && !strings.Contains(err.Error(), "no-such-program") {
			t.Errorf("the error %q does not name the program", err)
		}
		_, err = p.sys.Spawn(idl.SpawnReq{Prog: "fn", Argv: fn(func(*tproc) int32 { return 0 }), Fds: [8]int32{40}, NFds: 1})
		is(t, "spawn with a bad fd", err, errno.EBADF)
		_, err = p.sys.Wait(1)
		is(t, "wait for oneself", err, errno.ECHILD)
		// The child's working directory.
		p.sys.Mkdir("/w")
		req := idl.SpawnReq{Prog: "fn", Cwd: "/w", Argv: fn(func(c *tproc) int32 {
			if wd, _ := c.sys.Getcwd(); wd != "/w" {
				t.Errorf("the child's cwd is %q", wd)
			}
			return 0
		})}
		pid, err = p.sys.Spawn(req)
		ok(t, "spawn in /w", err)
		p.sys.Wait(pid)
		req.Cwd = "/nowhere"
		_, err = p.sys.Spawn(req)
		is(t, "spawn in a missing directory", err, errno.ENOENT)
		return 0
	})
	if after.Load() {
		t.Error("Exit returned to the program")
	}
	if n := s.loader.Live(); n != 0 {
		t.Errorf("%d program domains still loaded", n)
	}
}

func TestPanicIsReported(t *testing.T) {
	s := newSystem(t, options{})
	s.mustRun(func(p *tproc) int32 {
		pid, _ := p.spawn(func(c *tproc) int32 {
			var m map[string]int
			//lint:ignore SA5000 the panic is the point
			m["boom"]++ // a nil map: a runtime panic in the program
			return 0
		})
		ws, err := p.sys.Wait(pid)
		if err != nil || ws.Exited || ws.Killed || ws.Status != sys.StatusFailed || !strings.Contains(ws.Reason, "nil map") {
			t.Errorf("a panicking child: %+v, %v", ws, err)
		}
		pid, _ = p.spawn(func(c *tproc) int32 { panic("on purpose") })
		ws, _ = p.sys.Wait(pid)
		if !strings.Contains(ws.Reason, "on purpose") {
			t.Errorf("reason %q", ws.Reason)
		}
		// The system goes on.
		pid, _ = p.spawn(func(c *tproc) int32 { return 5 })
		if ws, _ := p.sys.Wait(pid); ws.Status != 5 {
			t.Errorf("after the panics: %+v", ws)
		}
		return 0
	})
	// And so does a panicking first process.
	ws := s.run(func(p *tproc) int32 { panic("init") })
	if ws.Status != sys.StatusFailed || !strings.Contains(ws.Reason, "init") {
		t.Errorf("Run of a panicking program: %+v", ws)
	}
	s.mustRun(func(p *tproc) int32 { return 0 })
}

func TestKill(t *testing.T) {
	s := newSystem(t, options{})
	s.mustRun(func(p *tproc) int32 {
		r, w, _ := p.sys.Pipe()
		var woke atomic.Bool
		reader, _ := p.spawn(func(c *tproc) int32 {
			c.read(0, 10) // blocks: nobody writes
			woke.Store(true)
			return 0
		}, r)
		sleeper, _ := p.spawn(func(c *tproc) int32 {
			c.sys.Sleep(int64(time.Hour))
			woke.Store(true)
			return 0
		})
		waiter, _ := p.spawn(func(c *tproc) int32 {
			c.spawn(func(*tproc) int32 { return 0 }) // a child it waits for
			c.spawn(func(c *tproc) int32 {
				c.sys.Sleep(int64(time.Hour))
				return 0
			})
			c.sys.Wait(-1)
			c.sys.Wait(-1)
			woke.Store(true)
			return 0
		})
		waitBlocked(t, p, reader, sleeper, waiter)
		for _, pid := range []int32{reader, sleeper, waiter} {
			ok(t, "kill", p.sys.Kill(pid))
			ws, err := p.sys.Wait(pid)
			if err != nil || !ws.Killed || ws.Exited || ws.Status != sys.StatusKilled {
				t.Errorf("wait for killed %d: %+v, %v", pid, ws, err)
			}
		}
		if woke.Load() {
			t.Error("a killed process went on running")
		}
		is(t, "kill a reaped process", p.sys.Kill(reader), errno.ESRCH)
		is(t, "kill init", p.sys.Kill(1), errno.EPERM)
		p.sys.Close(r)
		p.sys.Close(w)
		return 0
	})
}

// waitBlocked waits until every pid is sleeping in rv6.
func waitBlocked(t *testing.T, p *tproc, pids ...int32) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := p.sys.Procs(0)
		n := 0
		for _, pi := range b.Procs[:b.N] {
			for _, pid := range pids {
				if pi.Pid == pid && pi.State == "sleeping" {
					n++
				}
			}
		}
		if n == len(pids) {
			return
		}
		p.sys.Sleep(int64(time.Millisecond))
	}
	t.Errorf("processes %v did not all block", pids)
}

func TestReclaimAfterExit(t *testing.T) {
	s := newSystem(t, options{})
	s.mustRun(func(p *tproc) int32 {
		r, w, _ := p.sys.Pipe()
		child, _ := p.spawn(func(c *tproc) int32 {
			for i := range 10 {
				fd, err := c.sys.Open(fmt.Sprintf("/c%d", i), idl.OCreate|idl.OWrOnly)
				ok(t, "child open", err)
				c.write(fd, []byte("data"))
			}
			for range 20 { // RRefs of its own, never dropped
				rref.New(c.ctx.Heap(), [64]byte{})
			}
			c.sys.Sleep(int64(time.Hour))
			return 0
		}, -1, w)
		p.sys.Close(w)
		waitBlocked(t, p, child)
		var info idl.ProcInfo
		b, _ := p.sys.Procs(0)
		for _, pi := range b.Procs[:b.N] {
			if pi.Pid == child {
				info = pi
			}
		}
		if info.Domain == 0 || info.PPid != p.pid || info.Name != "fn" || !strings.HasPrefix(info.Args, "fn f") {
			t.Errorf("the listing shows %+v", info)
		}
		name := fmt.Sprintf("proc.%d.fn", child)
		d := s.m.Lookup(name)
		if d == nil || uint32(d.ID()) != info.Domain {
			t.Errorf("no domain %s with id %d", name, info.Domain)
		} else if held := d.Heap().Held(); held < 21 {
			t.Errorf("the child holds %d RRefs, want at least 21", held)
		}
		p.sys.Kill(child)
		p.sys.Wait(child)
		if n := rref.CountByOwner()[info.Domain]; n != 0 {
			t.Errorf("%d RRefs of the dead child's domain are left", n)
		}
		if s.m.Lookup(name) != nil {
			t.Errorf("the transient domain %s is still listed", name)
		}
		// Its descriptors are closed: the pipe's only writer is gone.
		if b, err := p.read(r, 10); len(b) != 0 || err != nil {
			t.Errorf("read after the writer died: %q, %v; want EOF", b, err)
		}
		return 0
	})
	if n := s.loader.Live(); n != 0 {
		t.Errorf("%d program domains still loaded", n)
	}
}

func TestOrphansGoToInit(t *testing.T) {
	s := newSystem(t, options{})
	s.mustRun(func(p *tproc) int32 {
		pidR, pidW, _ := p.sys.Pipe() // the middle process tells init the grandchild's pid
		goR, goW, _ := p.sys.Pipe()   // init tells the grandchild to end
		middle, _ := p.spawn(func(c *tproc) int32 {
			gc, err := c.spawn(func(g *tproc) int32 {
				g.read(0, 1) // until init writes
				return 9
			}, 0)
			ok(t, "spawn the grandchild", err)
			c.write(1, []byte{byte(gc)})
			return 0
		}, goR, pidW)
		p.sys.Close(goR)
		p.sys.Close(pidW)
		ws, _ := p.sys.Wait(middle)
		if ws.Status != 0 {
			t.Errorf("middle: %+v", ws)
		}
		b, _ := p.read(pidR, 1)
		if len(b) != 1 {
			t.Errorf("no pid from the middle process")
			return 1
		}
		gc := int32(b[0])
		pb, _ := p.sys.Procs(gc - 1)
		if pb.N == 0 || pb.Procs[0].Pid != gc || pb.Procs[0].PPid != 1 {
			t.Errorf("the orphan is listed as %+v", pb.Procs[0])
		}
		p.write(goW, []byte("x"))
		ws, err := p.sys.Wait(gc)
		if err != nil || ws.Status != 9 {
			t.Errorf("init waits for the orphan: %+v, %v", ws, err)
		}
		return 0
	})
}

func TestConcurrentWriters(t *testing.T) {
	s := newSystem(t, options{})
	const n, size = 6, 96 << 10
	s.mustRun(func(p *tproc) int32 {
		var pids []int32
		for i := range n {
			pid, err := p.spawn(func(c *tproc) int32 {
				name := fmt.Sprintf("/w%d", i)
				data := bytes.Repeat([]byte{byte('a' + i)}, size)
				fd, err := c.sys.Open(name, idl.OCreate|idl.OTrunc|idl.ORdWr)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					return 1
				}
				for off := 0; off < size; off += 4096 {
					if _, err := c.write(fd, data[off:off+4096]); err != nil {
						t.Errorf("%s: %v", name, err)
						return 1
					}
				}
				c.sys.Seek(fd, 0, idl.SeekSet)
				got, err := c.readAll(fd)
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("%s read back %d bytes, %v", name, len(got), err)
					return 1
				}
				return 0
			})
			ok(t, "spawn", err)
			pids = append(pids, pid)
		}
		for range pids {
			if ws, err := p.sys.Wait(-1); err != nil || ws.Status != 0 {
				t.Errorf("a writer ended with %+v, %v", ws, err)
			}
		}
		return 0
	})
}

func TestConsole(t *testing.T) {
	s := newSystem(t, options{})
	s.cons.in <- []byte("first line\nsecond line\n")
	s.cons.in <- nil // end of input
	s.mustRun(func(p *tproc) int32 {
		p.write(1, []byte("hello, console\n"))
		b, _ := p.read(0, 100)
		if string(b) != "first line\n" {
			t.Errorf("first read %q, want one line", b)
		}
		b, _ = p.read(0, 100)
		if string(b) != "second line\n" {
			t.Errorf("second read %q", b)
		}
		if b, err := p.read(0, 100); len(b) != 0 || err != nil {
			t.Errorf("at the end of input: %q, %v", b, err)
		}
		ok(t, "setraw", p.sys.SetRaw(0, true))
		ok(t, "setraw off", p.sys.SetRaw(0, false))
		// A process blocked reading the console is killed.
		pid, _ := p.spawn(func(c *tproc) int32 {
			c.read(0, 10)
			return 0
		}, 0, 1)
		waitBlocked(t, p, pid)
		p.sys.Kill(pid)
		if ws, _ := p.sys.Wait(pid); !ws.Killed {
			t.Errorf("console reader: %+v", ws)
		}
		// The monitor is not granted.
		_, err := p.sys.Monitor("domains\x00", 1)
		is(t, "monitor without a monitor", err, errno.ENOSYS)
		return 0
	})
	// The end of input for good: every read gets end of file.
	s.cons.close()
	s.mustRun(func(p *tproc) int32 {
		for range 2 {
			if b, err := p.read(0, 100); len(b) != 0 || err != nil {
				t.Errorf("after the end of input: %q, %v", b, err)
			}
		}
		return 0
	})
	if out := s.cons.output(); out != "hello, console\n" {
		t.Errorf("the console shows %q", out)
	}
	s.cons.mu.Lock()
	raw := s.cons.raw
	s.cons.mu.Unlock()
	if raw {
		t.Error("the console was left raw")
	}
}

func TestMonitor(t *testing.T) {
	s := newSystem(t, options{monitor: testMonitor{}})
	s.mustRun(func(p *tproc) int32 {
		st, err := p.sys.Monitor("domains\x00-a\x00", 1)
		if err != nil || st != 3 {
			t.Errorf("monitor: %d, %v", st, err)
		}
		_, err = p.sys.Monitor("x\x00", 42)
		is(t, "monitor to a bad fd", err, errno.EBADF)
		return 0
	})
	if out := s.cons.output(); out != "monitor: domains -a\n" {
		t.Errorf("the console shows %q", out)
	}
}

func TestShutdownAndRemount(t *testing.T) {
	s := newSystem(t, options{})
	s.mustRun(func(p *tproc) int32 {
		fd, _ := p.sys.Open("/kept", idl.OCreate|idl.OWrOnly)
		p.write(fd, []byte("durable"))
		return 0
	})
	done := make(chan idl.WaitStatus)
	go func() { done <- s.run(func(p *tproc) int32 { p.sys.Sleep(int64(time.Hour)); return 0 }) }()
	time.Sleep(50 * time.Millisecond)
	if err := s.r.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if ws := <-done; !ws.Killed {
		t.Errorf("Shutdown left the process %+v", ws)
	}
	if _, err := s.r.Run(idl.SpawnReq{Prog: "fn", Argv: fn(func(*tproc) int32 { return 0 })}); err == nil {
		t.Error("Run after Shutdown worked")
	}
	s.m.Kill(s.rv6)

	// A second Rv6 on the same disk, without formatting.
	s2 := newSystem(t, options{m: s.m, disk: s.disk, noMount: true})
	if _, err := s2.r.Mount(idl.Rv6Config{Device: "ramdisk"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.r.Mount(idl.Rv6Config{Device: "ramdisk"}); !errors.Is(err, errno.EBUSY) {
		t.Errorf("a second Mount: %v, want EBUSY", err)
	}
	s2.mustRun(func(p *tproc) int32 {
		fd, err := p.sys.Open("/kept", idl.ORdOnly)
		ok(t, "open", err)
		if b, _ := p.readAll(fd); string(b) != "durable" {
			t.Errorf("after a remount: %q", b)
		}
		return 0
	})
}
