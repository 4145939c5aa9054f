package boot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Reaper reaps the zombies that Linux hands to PID 1 (orphans reparented to
// init) without stealing the exit status of the children our own code
// starts and waits for.
//
// The design:
//
//   - Children that Go code of this process starts must be started with
//     Reaper.Start (or Run), which registers the pid as "owned" under the
//     reaper's mutex in the same critical section as the fork. Their owner
//     waits with Reaper.Wait, which waits (exec.Cmd.Wait) and then
//     unregisters the pid. An owned pid is never waited for by the reaper,
//     so exec.Cmd.Wait gets the real exit status.
//   - A reaping pass holds the same mutex, so a child cannot be forked and
//     exit before it is registered and then be reaped by mistake.
//   - With no owned child, every child of ours is an orphan (or a child
//     some code started behind the reaper's back, which the contract
//     forbids), and the pass is the classic loop of wait4(-1, WNOHANG).
//   - With owned children alive, wait4(-1) could take one of them, so the
//     pass instead lists our children from /proc (every /proc/<pid>/stat
//     whose parent is us) and calls wait4(pid, WNOHANG) for each pid that
//     is not owned. wait4 with WNOHANG reaps only a zombie; a running
//     child is left alone. If /proc cannot be read, the pass reaps nothing
//     and the zombies wait for the next pass after the owned children are
//     gone. (waitid(P_ALL, WNOWAIT) can peek at a zombie without reaping
//     it, but it always shows the same one, so an owned zombie that its
//     owner has not collected yet would hide the orphans behind it.)
//   - A pass runs on every SIGCHLD and, as a safety net for coalesced
//     signals and the cases above, every few seconds.
//
// Code that calls exec.Cmd.Start/Run directly in PID 1 races with the
// reaper and may see "wait: no child processes".
type Reaper struct {
	mu     sync.Mutex
	owned  map[int]int // pid -> number of registrations (pid reuse is possible only after Wait)
	reaped func(pid int, ws unix.WaitStatus)
	proc   string // where /proc is; tests may change it
	self   int
	n      int // zombies reaped so far
}

// NewReaper returns a reaper. onReap, if not nil, is called (with the
// reaper's lock held: it must not call back into the reaper) for every
// orphan reaped.
func NewReaper(onReap func(pid int, status unix.WaitStatus)) *Reaper {
	return &Reaper{owned: map[int]int{}, reaped: onReap, proc: "/proc", self: os.Getpid()}
}

// Interval is how often Loop reaps even without a SIGCHLD.
const reapInterval = 5 * time.Second

// Loop reaps on every SIGCHLD and every few seconds until ctx is done.
// PID 1 runs it in its own goroutine for the life of the system.
func (r *Reaper) Loop(ctx context.Context) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGCHLD)
	defer signal.Stop(ch)
	t := time.NewTicker(reapInterval)
	defer t.Stop()
	r.Reap()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
		case <-t.C:
		}
		r.Reap()
	}
}

// Reaped returns how many orphans the reaper has reaped.
func (r *Reaper) Reaped() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// Reap runs one reaping pass and returns the number of zombies reaped.
func (r *Reaper) Reap() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	if len(r.owned) == 0 {
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err == unix.EINTR {
				continue
			}
			if err != nil || pid <= 0 {
				break // ECHILD: no children; 0: none has exited
			}
			n++
			r.note(pid, ws)
		}
		return n
	}
	pids, err := r.children()
	if err != nil {
		return 0
	}
	for _, pid := range pids {
		if r.owned[pid] > 0 {
			continue
		}
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		for err == unix.EINTR {
			wpid, err = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		}
		if err == nil && wpid == pid {
			n++
			r.note(pid, ws)
		}
	}
	return n
}

func (r *Reaper) note(pid int, ws unix.WaitStatus) {
	r.n++
	if r.reaped != nil {
		r.reaped(pid, ws)
	}
}

// children lists the pids whose parent is this process, from /proc.
func (r *Reaper) children() ([]int, error) {
	ents, err := os.ReadDir(r.proc)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		b, err := os.ReadFile(r.proc + "/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		if ppid, ok := statPPID(string(b)); ok && ppid == r.self {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// statPPID extracts the parent pid from the text of /proc/<pid>/stat:
// "pid (comm) state ppid ...". comm may contain spaces and parentheses,
// so the fields are counted from the last ')'.
func statPPID(stat string) (int, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}

// Start starts cmd and registers its pid as owned so the reaper leaves its
// exit status to Wait. Every cmd started with Start must be waited for
// with Wait.
func (r *Reaper) Start(cmd *exec.Cmd) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	r.owned[cmd.Process.Pid]++
	return nil
}

// Wait waits for a cmd started with Start and unregisters it.
func (r *Reaper) Wait(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return errors.New("reaper: Wait on a command that was not started")
	}
	err := cmd.Wait()
	r.mu.Lock()
	pid := cmd.Process.Pid
	if r.owned[pid]--; r.owned[pid] <= 0 {
		delete(r.owned, pid)
	}
	r.mu.Unlock()
	return err
}

// Run starts cmd and waits for it, like exec.Cmd.Run.
func (r *Reaper) Run(cmd *exec.Cmd) error {
	if err := r.Start(cmd); err != nil {
		return err
	}
	return r.Wait(cmd)
}

// Owned returns the number of owned children not yet waited for.
func (r *Reaper) Owned() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.owned)
}

func (r *Reaper) String() string {
	return fmt.Sprintf("reaper(owned=%d, reaped=%d)", r.Owned(), r.Reaped())
}
