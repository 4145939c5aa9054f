package boot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary doubles as the child processes of the reaper tests:
// with RL_BOOT_HELPER set, TestMain runs the helper instead of the tests.
//
//	exit:N      exit with status N
//	sleep:D     sleep for duration D, then exit 0
//	stdin       run until stdin is closed, then exit 0
//	orphan:D    start "sleep:D" and exit at once, orphaning it
func TestMain(m *testing.M) {
	if h := os.Getenv("RL_BOOT_HELPER"); h != "" {
		os.Exit(helper(h))
	}
	os.Exit(m.Run())
}

func helper(h string) int {
	kind, arg, _ := strings.Cut(h, ":")
	switch kind {
	case "exit":
		n, _ := strconv.Atoi(arg)
		return n
	case "sleep":
		d, _ := time.ParseDuration(arg)
		time.Sleep(d)
		return 0
	case "stdin":
		io.Copy(io.Discard, os.Stdin)
		return 0
	case "orphan":
		c := helperCmd("sleep:" + arg)
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(c.Process.Pid)
		return 0
	}
	return 99
}

func helperCmd(h string) *exec.Cmd {
	c := exec.Command(os.Args[0], "-test.run=^$")
	// GORACE: a race-enabled helper would otherwise linger 1s at exit.
	c.Env = append(os.Environ(), "RL_BOOT_HELPER="+h, "GORACE=atexit_sleep_ms=0")
	c.Stderr = os.Stderr
	return c
}

// becomeSubreaper makes orphans of our descendants come to this process,
// as they come to PID 1 on a real system.
func becomeSubreaper(t *testing.T) {
	t.Helper()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skipf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
}

// reapable reports whether pid is a child of ours that wait4 can reap now.
// It peeks with waitid(WNOWAIT), which leaves the zombie in place.
//
// A "Z" in /proc/<pid>/stat is not enough: when a multi-threaded process
// (any Go program, such as our helpers) exits, its thread-group leader is
// a zombie at once, but the kernel does not let the parent reap it until
// its other threads have exited too (wait4 with WNOHANG returns 0 until
// then). On a loaded machine that window is long enough for a single
// reaping pass to miss the zombie. The reaper itself is not affected: the
// kernel sends SIGCHLD when the last thread goes, and Loop reaps then.
func reapable(pid int) bool {
	var si unix.Siginfo
	err := unix.Waitid(unix.P_PID, pid, &si, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
	return err == nil && si.Signo == int32(unix.SIGCHLD)
}

// zombieChildren lists our children that are zombies, from /proc.
func zombieChildren(t *testing.T) []int {
	t.Helper()
	r := NewReaper(nil)
	pids, err := r.children()
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var z []int
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		if f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]); len(f) > 0 && f[0] == "Z" {
			z = append(z, pid)
		}
	}
	return z
}

// startOrphan runs the "orphan" helper through r and returns the pid of
// the grandchild it orphans.
func startOrphan(t *testing.T, r *Reaper, d time.Duration) int {
	t.Helper()
	c := helperCmd("orphan:" + d.String())
	var out strings.Builder
	c.Stdout = &out
	if err := r.Run(c); err != nil {
		t.Fatalf("orphan helper: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("orphan helper printed %q", out.String())
	}
	return pid
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

// TestReaperKeepsOwnedStatus hammers the reaper while children started
// through it exit: every Wait must still get its child's exit status.
func TestReaperKeepsOwnedStatus(t *testing.T) {
	r := NewReaper(nil)
	stop := make(chan struct{})
	var passes atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			r.Reap()
			passes.Add(1)
		}
	}()
	var cwg sync.WaitGroup
	for i := range 12 {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			code := 3 + i
			if err := r.Run(helperCmd(fmt.Sprintf("exit:%d", code))); exitCode(err) != code {
				t.Errorf("child %d: Wait = %v, want exit status %d", i, err, code)
			}
		}()
	}
	cwg.Wait()
	close(stop)
	wg.Wait()
	if passes.Load() == 0 {
		t.Error("the reaper never ran")
	}
	if r.Owned() != 0 {
		t.Errorf("owned = %d after all waits", r.Owned())
	}
	if n := r.Reaped(); n != 0 {
		t.Errorf("reaper reaped %d of our own children", n)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func contains(pids []int, pid int) bool {
	for _, p := range pids {
		if p == pid {
			return true
		}
	}
	return false
}

// TestReaperReapsOrphans: an orphan reparented to us becomes a zombie and
// the reaper reaps it, both with no owned child (wait4(-1)) and while an
// owned child is running (the /proc scan), which keeps its status. Each
// case waits until the zombie is reapable (see reapable) and then checks
// that a single pass reaps it.
func TestReaperReapsOrphans(t *testing.T) {
	becomeSubreaper(t)
	var mu sync.Mutex
	reaped := map[int]bool{}
	r := NewReaper(func(pid int, ws unix.WaitStatus) {
		mu.Lock()
		reaped[pid] = true
		mu.Unlock()
	})
	isReaped := func(pid int) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return reaped[pid]
		}
	}

	// No owned child.
	pid := startOrphan(t, r, 0)
	waitFor(t, "the orphan to become our reapable zombie", func() bool { return reapable(pid) })
	r.Reap()
	if !isReaped(pid)() || contains(zombieChildren(t), pid) {
		t.Fatalf("orphan %d not reaped", pid)
	}

	// An owned child runs meanwhile: it runs until we close its stdin,
	// then exits with 0.
	owned := helperCmd("stdin")
	stdin, err := owned.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(owned); err != nil {
		t.Fatal(err)
	}
	pid = startOrphan(t, r, 0)
	waitFor(t, "the orphan to become our reapable zombie", func() bool { return reapable(pid) })
	r.Reap()
	if !isReaped(pid)() {
		t.Fatalf("orphan %d not reaped while an owned child runs", pid)
	}
	if isReaped(owned.Process.Pid)() {
		t.Fatal("the reaper reaped the owned child")
	}
	stdin.Close()
	if err := r.Wait(owned); err != nil {
		t.Fatalf("owned child: %v", err)
	}

	// An owned child that has exited but is not waited for yet: its
	// zombie is skipped, orphans are still reaped.
	owned = helperCmd("exit:5")
	if err := r.Start(owned); err != nil {
		t.Fatal(err)
	}
	pid = startOrphan(t, r, 0)
	waitFor(t, "both zombies to be reapable", func() bool {
		return reapable(pid) && reapable(owned.Process.Pid)
	})
	r.Reap()
	if !isReaped(pid)() || isReaped(owned.Process.Pid)() {
		t.Fatalf("reaped: %v; want the orphan %d and not the owned %d", reaped, pid, owned.Process.Pid)
	}
	if err := r.Wait(owned); exitCode(err) != 5 {
		t.Fatalf("owned child: %v, want exit status 5", err)
	}
}

// TestReaperLoop: the loop reaps on SIGCHLD, long before its timer.
func TestReaperLoop(t *testing.T) {
	becomeSubreaper(t)
	var got atomic.Int64
	r := NewReaper(func(pid int, ws unix.WaitStatus) { got.Store(int64(pid)) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Loop(ctx); close(done) }()
	pid := startOrphan(t, r, 100*time.Millisecond)
	start := time.Now()
	waitFor(t, "the loop to reap the orphan", func() bool { return got.Load() == int64(pid) })
	if d := time.Since(start); d > reapInterval {
		t.Errorf("reaped after %v: SIGCHLD did not trigger a pass", d)
	}
	cancel()
	<-done
}

func TestStatPPID(t *testing.T) {
	for in, want := range map[string]int{
		"123 (sh) S 1 123 123 0":           1,
		"7 (a) b) (c) Z 42 7 7":            42,
		"9 (x)":                            -1,
		"nonsense":                         -1,
		"5 (space in name) R notanumber 0": -1,
	} {
		got, ok := statPPID(in)
		if !ok {
			got = -1
		}
		if got != want {
			t.Errorf("statPPID(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestReaperWaitNotStarted(t *testing.T) {
	r := NewReaper(nil)
	if err := r.Wait(exec.Command("true")); err == nil {
		t.Error("Wait on an unstarted command did not fail")
	}
	if err := r.Run(exec.Command("/nonexistent/program")); err == nil || r.Owned() != 0 {
		t.Errorf("Run(missing) = %v, owned %d", err, r.Owned())
	}
	if !strings.Contains(r.String(), "owned=0") {
		t.Error(r.String())
	}
}
