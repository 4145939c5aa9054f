package usertests

import (
	"fmt"
	"io"
	"strings"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/ulib"
)

func ulibOpts() ulib.SpawnOptions { return ulib.SpawnOptions{} }

func ulibOptsFds(fds ...int) ulib.SpawnOptions { return ulib.SpawnOptions{Fds: fds} }

// testBadFd checks that descriptors that are not open are refused.
func testBadFd(u *suite) error {
	p := u.p
	sys := p.Sys()
	bad := p.NewFile(77, "fd 77")
	_, rerr := bad.Read(make([]byte, 1))
	_, werr := bad.Write([]byte("x"))
	_, serr := bad.Seek(0, io.SeekStart)
	_, ferr := bad.Stat()
	_, derr := sys.Dup(77)
	_, d2err := sys.Dup2(77, 78)
	for _, c := range []struct {
		what string
		err  error
	}{
		{"close of fd 77", sys.Close(77)},
		{"close of fd -1", sys.Close(-1)},
		{"read of fd 77", rerr},
		{"write of fd 77", werr},
		{"seek of fd 77", serr},
		{"fstat of fd 77", ferr},
		{"dup of fd 77", derr},
		{"dup2 of fd 77", d2err},
		{"fsync of fd 77", sys.Fsync(77)},
	} {
		if err := expect(c.err, errno.EBADF, c.what); err != nil {
			return err
		}
	}
	// Closing twice.
	f, err := p.Create("f")
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return expect(f.Close(), errno.EBADF, "second close")
}

// testFdLimit opens descriptors until the process's limit (EMFILE), then
// checks that closing one makes room for one more.
func testFdLimit(u *suite) error {
	p := u.p
	if err := p.WriteFile("f", []byte("x")); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	var fds []int32
	defer func() {
		for _, fd := range fds {
			p.Sys().Close(fd)
		}
	}()
	const most = 4096
	var err error
	for len(fds) < most {
		var fd int32
		if fd, err = p.Sys().Open("f", idl.ORdOnly); err != nil {
			break
		}
		fds = append(fds, fd)
	}
	if err == nil {
		return fmt.Errorf("opened %d descriptors without reaching a limit", most)
	}
	if err := expect(err, errno.EMFILE, fmt.Sprintf("open after %d descriptors", len(fds))); err != nil {
		return err
	}
	// Descriptors are the lowest free ones: closing one makes it free.
	last := fds[len(fds)/2]
	if err := p.Sys().Close(last); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	fd, err := p.Sys().Open("f", idl.ORdOnly)
	if err != nil {
		return fmt.Errorf("open after a close at the limit: %w", err)
	}
	fds[len(fds)/2] = fd
	if fd != last {
		return fmt.Errorf("open after closing fd %d: got fd %d, want the lowest free one", last, fd)
	}
	return nil
}

// testDup checks that dup'd descriptors share their offset, and dup2.
func testDup(u *suite) error {
	p := u.p
	sys := p.Sys()
	f, err := p.Create("d")
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	defer f.Close()
	fd2, err := sys.Dup(int32(f.Fd()))
	if err != nil {
		return fmt.Errorf("dup: %w", err)
	}
	g := p.NewFile(fd2, "d (dup)")
	defer g.Close()
	if int(fd2) == f.Fd() {
		return fmt.Errorf("dup returned the same descriptor %d", fd2)
	}
	for i, w := range []*ulib.File{f, g, f} {
		if _, err := w.WriteString(fmt.Sprint(i)); err != nil {
			return fmt.Errorf("write %d: %w", i, err)
		}
	}
	if err := u.check("d", []byte("012")); err != nil {
		return fmt.Errorf("writes through dup'd descriptors: %w", err)
	}
	if pos, err := g.Seek(0, io.SeekCurrent); err != nil || pos != 3 {
		return fmt.Errorf("offset of the dup: %d, %v; want 3", pos, err)
	}
	// dup2 onto an open descriptor closes it first.
	h, err := p.Create("e")
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if fd, err := sys.Dup2(int32(f.Fd()), int32(h.Fd())); err != nil || int(fd) != h.Fd() {
		h.Close()
		return fmt.Errorf("dup2: %d, %v; want %d", fd, err, h.Fd())
	}
	if _, err := h.WriteString("3"); err != nil {
		h.Close()
		return fmt.Errorf("write through dup2: %w", err)
	}
	h.Close()
	if err := u.check("d", []byte("0123")); err != nil {
		return fmt.Errorf("after dup2: %w", err)
	}
	return u.check("e", nil)
}

// testCwd checks chdir and getcwd, and relative paths.
func testCwd(u *suite) error {
	p := u.p
	start, err := p.Getwd()
	if err != nil {
		return fmt.Errorf("getcwd: %w", err)
	}
	if !strings.HasPrefix(start, "/") || !strings.HasSuffix(start, "/cwd") {
		return fmt.Errorf("getcwd: %q, want the test's directory", start)
	}
	if err := p.Mkdir("a"); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	if err := p.Mkdir("a/b"); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	if err := p.Chdir("a/b"); err != nil {
		return fmt.Errorf("chdir: %w", err)
	}
	if wd, err := p.Getwd(); err != nil || wd != start+"/a/b" {
		return fmt.Errorf("getcwd after chdir a/b: %q, %v; want %q", wd, err, start+"/a/b")
	}
	if err := p.WriteFile("rel", []byte("relative")); err != nil {
		return fmt.Errorf("write relative: %w", err)
	}
	if err := u.check(start+"/a/b/rel", []byte("relative")); err != nil {
		return err
	}
	if err := p.Chdir("../.."); err != nil {
		return fmt.Errorf("chdir ../..: %w", err)
	}
	if wd, err := p.Getwd(); err != nil || wd != start {
		return fmt.Errorf("getcwd after chdir ../..: %q, %v; want %q", wd, err, start)
	}
	if err := expect(p.Chdir("nothere"), errno.ENOENT, "chdir to a missing directory"); err != nil {
		return err
	}
	// The working directory may be removed under us; then it is gone.
	if err := p.Mkdir("gone"); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	if err := p.Chdir("gone"); err != nil {
		return fmt.Errorf("chdir: %w", err)
	}
	if err := p.Rmdir(start + "/gone"); err != nil {
		return fmt.Errorf("rmdir of the working directory: %w", err)
	}
	if err := p.WriteFile("x", nil); err == nil {
		return fmt.Errorf("create in a removed working directory succeeded")
	}
	return p.Chdir(start)
}

// testSpawnCwd checks that a child starts in its parent's working
// directory, or in the one Spawn names.
func testSpawnCwd(u *suite) error {
	p := u.p
	wd, err := p.Getwd()
	if err != nil {
		return fmt.Errorf("getcwd: %w", err)
	}
	if err := p.Mkdir("sub"); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	for _, c := range []struct{ dir, want string }{{"", wd}, {"sub", wd + "/sub"}, {wd + "/sub", wd + "/sub"}} {
		r, w, err := p.Pipe()
		if err != nil {
			return fmt.Errorf("pipe: %w", err)
		}
		pid, err := p.Spawn(Name, []string{Name, "-child", "pwd"}, ulib.SpawnOptions{Fds: []int{0, w.Fd(), 2}, Dir: c.dir})
		w.Close()
		if err != nil {
			r.Close()
			return fmt.Errorf("spawn in %q: %w", c.dir, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || string(got) != c.want+"\n" {
			return fmt.Errorf("child spawned in %q: working directory %q (%v), want %q", c.dir, got, err, c.want)
		}
		if err := u.waitExit(pid, 0); err != nil {
			return err
		}
	}
	return nil
}
