//rl:domain

// Package usertests is the usertests program: a self-test of Rv6 as its
// programs see it, in the spirit of xv6's usertests, run on the booted
// system. It exercises the syscalls end to end (files, big files, directory
// trees, links and renames, pipes, processes, descriptors, the working
// directory) in a scratch directory it removes afterwards, prints each test
// and its outcome, and ends with "ALL TESTS PASSED" (exit status 0) or
// "SOME TESTS FAILED" (exit status 1).
//
//	usertests [-q] [-d DIR] [TEST...]
//
// -q makes the big tests smaller (for slow machines and -race); -d names
// the scratch directory (default /usertests.tmp); TEST names run only those
// tests (-l lists them).
//
// Child processes run this same program in a child mode ("usertests
// -child MODE ARGS..."), as xv6's usertests forks itself.
package usertests

import (
	"errors"
	"fmt"
	"strings"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
	"github.com/rlgo/redleaf/rv6/ulib"
)

// Name is the program's registered name, which children are spawned as.
const Name = "usertests"

const usage = "usertests [-lq] [-d DIR] [TEST...]"

func init() { ulib.Register(Name, main) }

// A test returns nil when it passes, or what went wrong.
type test struct {
	name string
	fn   func(u *suite) error
}

// tests are the tests, in the order they run.
func tests() []test {
	return []test{
		{"createwrite", testCreateWrite},
		{"append", testAppend},
		{"truncate", testTruncate},
		{"seek", testSeek},
		{"bigfile", testBigFile},
		{"manyfiles", testManyFiles},
		{"unlinkopen", testUnlinkOpen},
		{"link", testLink},
		{"rename", testRename},
		{"dirtree", testDirTree},
		{"direrrors", testDirErrors},
		{"pipe", testPipe},
		{"pipechild", testPipeChild},
		{"pipeeof", testPipeEOF},
		{"spawnwait", testSpawnWait},
		{"spawnerrors", testSpawnErrors},
		{"childpanic", testChildPanic},
		{"killsleeper", testKillSleeper},
		{"concurrentwriters", testConcurrentWriters},
		{"badfd", testBadFd},
		{"fdlimit", testFdLimit},
		{"dup", testDup},
		{"cwd", testCwd},
		{"spawncwd", testSpawnCwd},
	}
}

// suite is the state of one run.
type suite struct {
	p     *ulib.Proc
	quick bool
	dir   string // the scratch directory
}

func main(p *ulib.Proc) int {
	if len(p.Args) > 1 && p.Args[1] == "-child" {
		return child(p, p.Args[2:])
	}
	opts, names, err := cli.Parse(p.Args, "lqd:")
	if err != nil {
		return cli.BadUsage(p, err, usage)
	}
	all := tests()
	if opts.Has('l') {
		for _, t := range all {
			p.Println(t.name)
		}
		return ulib.StatusOK
	}
	run := all
	if len(names) > 0 {
		run = nil
		for _, n := range names {
			i := indexOf(all, n)
			if i < 0 {
				p.Errorf("no test %q (usertests -l lists them)", n)
				return ulib.StatusUsage
			}
			run = append(run, all[i])
		}
	}
	u := &suite{p: p, quick: opts.Has('q'), dir: "/usertests.tmp"}
	if opts.Has('d') {
		u.dir = opts.Value('d')
	}
	home, err := p.Getwd()
	if err != nil {
		return cli.Fail(p, "getcwd", err)
	}
	if err := removeAll(p, u.dir); err != nil && !errors.Is(err, errno.ENOENT) {
		return cli.Fail(p, u.dir, err)
	}
	if err := p.Mkdir(u.dir); err != nil {
		return cli.Fail(p, u.dir, err)
	}
	p.Printf("usertests starting: %d tests in %s\n", len(run), u.dir)
	failed := 0
	for _, t := range run {
		p.Printf("test %s: ", t.name)
		if err := u.run(t); err != nil {
			p.Printf("FAILED: %v\n", err)
			failed++
		} else {
			p.Printf("OK\n")
		}
		p.Chdir(home)
	}
	if err := removeAll(p, u.dir); err != nil {
		p.Errorf("removing %s: %s", u.dir, cli.Text(err))
	}
	if failed > 0 {
		p.Printf("SOME TESTS FAILED: %d of %d\n", failed, len(run))
		return ulib.StatusError
	}
	p.Printf("ALL TESTS PASSED\n")
	return ulib.StatusOK
}

func indexOf(ts []test, name string) int {
	for i, t := range ts {
		if t.name == name {
			return i
		}
	}
	return -1
}

// run runs one test in a directory of its own (the working directory
// while it runs), and removes that directory afterwards: a test that
// passed must leave nothing behind that the removal trips on.
func (u *suite) run(t test) error {
	dir := u.dir + "/" + t.name
	if err := u.p.Mkdir(dir); err != nil {
		return fmt.Errorf("mkdir %s: %w", dir, err)
	}
	if err := u.p.Chdir(dir); err != nil {
		return fmt.Errorf("chdir %s: %w", dir, err)
	}
	err := t.fn(u)
	if cerr := u.p.Chdir(u.dir); cerr != nil && err == nil {
		err = fmt.Errorf("chdir %s: %w", u.dir, cerr)
	}
	if rerr := removeAll(u.p, dir); rerr != nil && err == nil {
		err = fmt.Errorf("cleaning up: %w", rerr)
	}
	return err
}

// removeAll removes path and, if it is a directory, everything under it.
func removeAll(p *ulib.Proc, path string) error {
	st, err := p.Stat(path)
	if err != nil {
		return err
	}
	if st.Type != idl.FileTypeDir {
		return p.Unlink(path)
	}
	ents, err := p.ReadDir(path)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Name == "." || e.Name == ".." {
			continue
		}
		if err := removeAll(p, path+"/"+e.Name); err != nil {
			return err
		}
	}
	return p.Rmdir(path)
}

// expect checks that err is the errno want.
func expect(err error, want errno.Errno, what string) error {
	if err == nil {
		return fmt.Errorf("%s: succeeded, want %s", what, want.Name())
	}
	if !errors.Is(err, want) {
		return fmt.Errorf("%s: %v, want %s", what, err, want.Name())
	}
	return nil
}

// spawnChild starts this program in child mode with args, its descriptors
// 0, 1, 2 being fds (nil: the suite's own).
func (u *suite) spawnChild(fds []int, args ...string) (int, error) {
	argv := append([]string{Name, "-child"}, args...)
	pid, err := u.p.Spawn(Name, argv, ulib.SpawnOptions{Fds: fds})
	if err != nil {
		return 0, fmt.Errorf("spawn %s: %w", strings.Join(args, " "), err)
	}
	return pid, nil
}

// waitExit waits for pid and checks it exited with status want.
func (u *suite) waitExit(pid, want int) error {
	st, err := u.p.Wait(pid)
	if err != nil {
		return fmt.Errorf("wait %d: %w", pid, err)
	}
	if int(st.Pid) != pid {
		return fmt.Errorf("wait %d: reaped pid %d", pid, st.Pid)
	}
	if !st.Exited || int(st.Status) != want {
		return fmt.Errorf("child %d: %s, want exit status %d", pid, cli.Describe(st), want)
	}
	return nil
}
