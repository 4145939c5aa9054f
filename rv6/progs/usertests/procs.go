package usertests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/progs/internal/cli"
)

// testPipe moves data through a pipe within one process.
func testPipe(u *suite) error {
	p := u.p
	r, w, err := p.Pipe()
	if err != nil {
		return fmt.Errorf("pipe: %w", err)
	}
	defer r.Close()
	msg := []byte("through the pipe")
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return fmt.Errorf("write: %w", err)
	}
	w.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, msg) {
		return fmt.Errorf("read: %q, %v; want %q", got, err, msg)
	}
	// Once drained with no writer left: end of file, again and again.
	if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		return fmt.Errorf("read of a drained pipe: %d, %v; want EOF", n, err)
	}
	if _, err := r.Write([]byte("x")); err == nil {
		return fmt.Errorf("write to a pipe's read end succeeded")
	}
	if _, err := r.Seek(0, io.SeekStart); err == nil {
		return fmt.Errorf("seek of a pipe succeeded")
	}
	return nil
}

// testPipeChild sends more than a pipe holds through a child that copies
// its standard input to its standard output, another pipe: the two
// processes take turns as the pipes fill and drain.
func testPipeChild(u *suite) error {
	p := u.p
	size := 600 << 10
	if u.quick {
		size = 200 << 10
	}
	in, toChild, err := p.Pipe()
	if err != nil {
		return fmt.Errorf("pipe: %w", err)
	}
	fromChild, out, err := p.Pipe()
	if err != nil {
		in.Close()
		toChild.Close()
		return fmt.Errorf("pipe: %w", err)
	}
	pid, err := u.spawnChild([]int{in.Fd(), out.Fd(), 2}, "cat")
	// The child has its own descriptors now: without closing ours, neither
	// side would see an end of file.
	in.Close()
	out.Close()
	if err != nil {
		toChild.Close()
		fromChild.Close()
		return err
	}
	// Write from a thread of our own while this one reads, so that
	// neither pipe's filling stops us.
	data := pattern(0, size, 6)
	werr := make(chan error, 1)
	q := p.Fork()
	wf := q.NewFile(int32(toChild.Fd()), "pipe")
	p.Go("usertests-pipe-writer", func() {
		_, err := wf.Write(data)
		wf.Close()
		werr <- err
	})
	got, rerr := io.ReadAll(fromChild)
	fromChild.Close()
	if err := <-werr; err != nil {
		return fmt.Errorf("write to the child: %w", err)
	}
	if rerr != nil {
		return fmt.Errorf("read from the child: %w", rerr)
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("through the child: %d bytes, want %d: %s", len(got), len(data), diff(got, data))
	}
	return u.waitExit(pid, 0)
}

// testPipeEOF checks the ends of a pipe: a reader sees end of file when
// the last writer closes (also when the writer is a child that exits), a
// writer gets EPIPE when no reader is left.
func testPipeEOF(u *suite) error {
	p := u.p
	r, w, err := p.Pipe()
	if err != nil {
		return fmt.Errorf("pipe: %w", err)
	}
	// A child holds the write end (as its standard output) and exits: the
	// pipe ends for us once we closed our copy.
	pid, err := u.spawnChild([]int{0, w.Fd(), 2}, "pwd")
	w.Close()
	if err != nil {
		r.Close()
		return err
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !strings.HasSuffix(string(got), "/pipeeof\n") {
		return fmt.Errorf("read from an exited child: %q, %v", got, err)
	}
	if err := u.waitExit(pid, 0); err != nil {
		return err
	}
	// No reader: EPIPE.
	r, w, err = p.Pipe()
	if err != nil {
		return fmt.Errorf("pipe: %w", err)
	}
	r.Close()
	_, err = w.Write([]byte("nobody reads this"))
	w.Close()
	if err := expect(err, errno.EPIPE, "write to a pipe without readers"); err != nil {
		return err
	}
	// A dup'd write end keeps the pipe open.
	r, w, err = p.Pipe()
	if err != nil {
		return fmt.Errorf("pipe: %w", err)
	}
	defer r.Close()
	w2, err := p.Sys().Dup(int32(w.Fd()))
	if err != nil {
		w.Close()
		return fmt.Errorf("dup: %w", err)
	}
	w.Close()
	wf := p.NewFile(w2, "pipe")
	if _, err := wf.WriteString("still open"); err != nil {
		wf.Close()
		return fmt.Errorf("write through the dup: %w", err)
	}
	wf.Close()
	got, err = io.ReadAll(r)
	if err != nil || string(got) != "still open" {
		return fmt.Errorf("read: %q, %v", got, err)
	}
	return nil
}

// testSpawnWait checks exit statuses, waiting for one child and for any.
func testSpawnWait(u *suite) error {
	p := u.p
	statuses := []int{0, 1, 7, 255}
	pids := map[int]int{}
	for _, s := range statuses {
		pid, err := u.spawnChild(nil, "exit", fmt.Sprint(s))
		if err != nil {
			return err
		}
		if pid == p.Pid {
			return fmt.Errorf("a child has the parent's pid %d", pid)
		}
		if _, dup := pids[pid]; dup {
			return fmt.Errorf("two children have pid %d", pid)
		}
		pids[pid] = s
	}
	// The last one by its pid, the others in any order.
	last := 0
	for pid, s := range pids {
		if s == statuses[len(statuses)-1] {
			last = pid
		}
	}
	if err := u.waitExit(last, 255); err != nil {
		return err
	}
	delete(pids, last)
	for len(pids) > 0 {
		st, err := p.Wait(-1)
		if err != nil {
			return fmt.Errorf("wait -1: %w", err)
		}
		want, ok := pids[int(st.Pid)]
		if !ok {
			return fmt.Errorf("wait -1: reaped %d, not a child left", st.Pid)
		}
		if !st.Exited || int(st.Status) != want {
			return fmt.Errorf("child %d: %s, want exit status %d", st.Pid, cli.Describe(st), want)
		}
		delete(pids, int(st.Pid))
	}
	// Nobody left to wait for.
	_, err := p.Wait(-1)
	if err := expect(err, errno.ECHILD, "wait with no children"); err != nil {
		return err
	}
	_, err = p.Wait(last)
	return expect(err, errno.ECHILD, "wait for a reaped child")
}

// testSpawnErrors checks spawns that cannot work.
func testSpawnErrors(u *suite) error {
	p := u.p
	if _, err := p.Spawn("no-such-program", []string{"no-such-program"}, ulibOpts()); err == nil {
		return fmt.Errorf("spawn of a program that does not exist succeeded")
	}
	if _, err := p.Spawn(Name, []string{Name, "-child", "exit", "0"}, ulibOptsFds(99)); err == nil {
		return fmt.Errorf("spawn with a bad descriptor succeeded")
	}
	if err := expect(p.Kill(1<<30), errno.ESRCH, "kill of a process that does not exist"); err != nil {
		return err
	}
	return nil
}

// testChildPanic: a child that panics is reported to its parent as
// failed, with the panic, and nothing else is disturbed.
func testChildPanic(u *suite) error {
	pid, err := u.spawnChild(nil, "panic", "usertests child panicking on purpose")
	if err != nil {
		return err
	}
	st, err := u.p.Wait(pid)
	if err != nil {
		return fmt.Errorf("wait: %w", err)
	}
	if st.Exited || st.Killed || st.Status == 0 {
		return fmt.Errorf("a panicking child: %+v; want a failure", st)
	}
	if !strings.Contains(st.Reason, "panicking on purpose") {
		return fmt.Errorf("a panicking child's reason %q does not name the panic", st.Reason)
	}
	// Processes still work.
	pid, err = u.spawnChild(nil, "exit", "3")
	if err != nil {
		return err
	}
	return u.waitExit(pid, 3)
}

// testKillSleeper kills a child sleeping for an hour: it ends at once.
func testKillSleeper(u *suite) error {
	p := u.p
	pid, err := u.spawnChild(nil, "sleep", "3600")
	if err != nil {
		return err
	}
	p.Sleep(20 * time.Millisecond) // most likely asleep by now; killing it earlier works too
	start := time.Now()
	if err := p.Kill(pid); err != nil {
		return fmt.Errorf("kill %d: %w", pid, err)
	}
	st, err := p.Wait(pid)
	if err != nil {
		return fmt.Errorf("wait: %w", err)
	}
	if !st.Killed || st.Exited {
		return fmt.Errorf("killed child: %+v; want Killed", st)
	}
	if d := time.Since(start); d > 10*time.Second {
		return fmt.Errorf("a killed sleeper took %v to end", d)
	}
	return nil
}

// testConcurrentWriters runs several children that append records to one
// file (O_APPEND) and write their own files at the same time: every record
// arrives whole, once, in each writer's order.
func testConcurrentWriters(u *suite) error {
	p := u.p
	const writers = 4
	n := 200
	if u.quick {
		n = 60
	}
	var pids []int
	for i := range writers {
		pid, err := u.spawnChild(nil, "append", "shared", fmt.Sprintf("w%d", i), fmt.Sprint(n))
		if err != nil {
			return err
		}
		pids = append(pids, pid)
	}
	var errs []error
	for _, pid := range pids {
		errs = append(errs, u.waitExit(pid, 0))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	data, err := p.ReadFile("shared")
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if len(data) != writers*n*recordSize {
		return fmt.Errorf("shared file: %d bytes, want %d", len(data), writers*n*recordSize)
	}
	next := map[string]int{}
	for off := 0; off < len(data); off += recordSize {
		rec := string(data[off : off+recordSize])
		tag, _, _ := strings.Cut(rec, " ")
		if rec != record(tag, next[tag]) {
			return fmt.Errorf("shared file at %d: %q, want record %d of %s", off, rec, next[tag], tag)
		}
		next[tag]++
	}
	for i := range writers {
		tag := fmt.Sprintf("w%d", i)
		var want strings.Builder
		for j := range n {
			want.WriteString(record(tag, j))
		}
		if err := u.check("shared."+tag, []byte(want.String())); err != nil {
			return err
		}
	}
	return nil
}
