package domain

import (
	"sync/atomic"
	"time"
)

// A call through a capability with a deadline (BindOption Deadline) runs on
// a kernel worker goroutine while the caller waits for it or for the
// deadline. Go cannot stop a goroutine from outside, so this is the only
// way a caller gets control back from a callee that never returns: on the
// deadline the callee is failed and the caller gets its *FailedError; the
// worker is abandoned, counted in Stats.Stuck, and ends at the callee's next
// crossing or kernel call (which unwind, the callee being dead) or never, if
// it spins without making one. Such calls cost two goroutine switches; the
// generated proxies keep the call frames in pools, so they allocate nothing
// in the steady state.
//
// What such a call moved into the callee comes back to the caller if the
// worker does: once the callee is failed, the caller waits one more
// deadline (the grace) for the worker, which a dead callee's next crossing
// or kernel call unwinds; the proxy's rescue then gives the RRefs back, and
// the caller (a shadow retrying on a fresh instance) has them again. A
// worker still out after the grace is abandoned, and the call forfeits what
// it moved: the generated proxy calls rref.Forfeit (ForfeitDeque) on its
// arguments, so that a later rescue cannot bring them back to handles the
// caller has given up on, and the worker drops them, with the call's
// results, whenever it comes back. Before this, such a batch came back
// long after its caller had returned, to a handle nobody held (issue 16).

// A Job is one call through a capability with a deadline: a frame the
// generated proxy fills with the arguments, runs on a worker, and reads the
// results from. For generated proxies.
type Job interface {
	Run()           // makes the call through the proxy without a deadline
	Discard()       // drops the RRef results of a call its caller gave up on
	Method() string // Interface.Method, for the DeadlineError
	frame() *Frame
}

// Frame is the kernel's part of a Job; generated frames embed it.
type Frame struct {
	done    chan struct{}
	timer   deadlineTimer
	timers  timerSource  // what made timer: frames are pooled across managers
	escaped any          // a panic of the caller's side, re-raised on its goroutine
	state   atomic.Int32 // frameRunning, frameFinished or frameAbandoned
}

// A deadlineTimer times one call with a deadline. It behaves as a
// *time.Timer does (since Go 1.23: no stale tick after Stop or Reset).
type deadlineTimer interface {
	Chan() <-chan time.Time
	Reset(d time.Duration) bool
	Stop() bool
}

// A timerSource makes the timers of a manager's calls with a deadline: the
// clock, for everyone but tests that must decide which deadlines pass (see
// export_test.go).
type timerSource interface {
	NewTimer(d time.Duration) deadlineTimer
}

type realTimers struct{}

func (realTimers) NewTimer(d time.Duration) deadlineTimer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ *time.Timer }

func (t realTimer) Chan() <-chan time.Time { return t.C }

const (
	frameRunning   = iota
	frameOverdue   // the deadline passed: the callee is failed, the caller waits out the grace
	frameFinished  // the worker came back in time: the results are in the frame
	frameAbandoned // the caller gave up: the worker drops what it comes back with
)

//lint:ignore U1000 it implements Job for the frames generated proxies embed Frame in
func (f *Frame) frame() *Frame { return f }

// Dispatch runs j on a worker and waits for it or for the deadline. It returns
// nil when j ran (its results are in the frame). If the deadline passes
// first, the callee is failed and Dispatch waits as long again for the
// worker: if it comes back, j ran (and failed, or returned before it
// noticed) and Dispatch returns nil; if not, Dispatch returns the callee's
// *FailedError, the frame belongs to the stuck worker from then on, and the
// proxy must forfeit the RRefs it passed (rref.Forfeit). A panic of the caller's
// side during j (its unwinding, a misused RRef) is re-raised here, on the
// caller's goroutine. For generated proxies.
func (x *Crossing) Dispatch(j Job) error {
	x.mustGenuine()
	f := j.frame()
	m := x.callee.mgr
	if f.done == nil {
		f.done = make(chan struct{}, 1)
	}
	if f.timers == m.timers {
		f.timer.Reset(x.deadline)
	} else {
		if f.timer != nil {
			f.timer.Stop()
		}
		f.timer, f.timers = m.timers.NewTimer(x.deadline), m.timers
	}
	f.state.Store(frameRunning)
	m.submit(j)
	select {
	case <-f.done:
	case <-f.timer.Chan():
		if !f.state.CompareAndSwap(frameRunning, frameOverdue) {
			<-f.done // it finished as the deadline passed
			break
		}
		x.faults.Add(1)
		err := x.callee.die(Failed, &FailedError{
			Value: &DeadlineError{Call: j.Method(), After: x.deadline},
			Where: "deadline",
		})
		// The grace: the dead callee's next crossing or kernel call
		// unwinds the worker, whose proxy then gives back what the call
		// moved, and the caller gets the callee's failure from the frame
		// with its RRefs valid again (a shadow retries the call).
		f.timer.Reset(x.deadline)
		select {
		case <-f.done:
		case <-f.timer.Chan():
			if f.state.CompareAndSwap(frameOverdue, frameAbandoned) {
				m.stuck.Add(1)
				m.stuckTotal.Add(1)
				return err
			}
			<-f.done // it came back as the grace ended
		}
	}
	f.timer.Stop()
	if v := f.escaped; v != nil {
		f.escaped = nil
		panic(v)
	}
	return nil
}

// workerIdle is how long an idle worker waits for the next call before it
// exits.
const workerIdle = 2 * time.Second

// Workers and submit agree through m.idle, the number of workers committed
// to receiving one more job from m.jobs. A worker commits before it reports
// the end of its job (so that the caller's next call finds it), and
// withdraws only by taking its count back; a submitter claims a commitment
// the same way, and then its send is sure to be received.

// submit hands j to an idle worker, or starts one.
func (m *Manager) submit(j Job) {
	for {
		n := m.idle.Load()
		if n <= 0 {
			break
		}
		if m.idle.CompareAndSwap(n, n-1) {
			m.jobs <- j
			return
		}
	}
	m.workers.Add(1)
	go m.worker(j)
}

func (m *Manager) worker(j Job) {
	defer m.workers.Add(-1)
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		m.run(j)
		idle.Reset(workerIdle)
		select {
		case j = <-m.jobs:
			continue
		case <-idle.C:
		case <-m.closing:
		}
		if m.withdraw() {
			return
		}
		j = <-m.jobs // a submitter claimed this worker as we gave up
	}
}

// withdraw takes back one commitment, if no submitter claimed it.
func (m *Manager) withdraw() bool {
	for {
		n := m.idle.Load()
		if n <= 0 {
			return false
		}
		if m.idle.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

func (m *Manager) run(j Job) {
	f := j.frame()
	defer func() {
		f.escaped = recover()
		m.idle.Add(1) // before the caller hears of it: see submit
		if f.state.CompareAndSwap(frameRunning, frameFinished) || f.state.CompareAndSwap(frameOverdue, frameFinished) {
			f.done <- struct{}{}
			return
		}
		j.Discard()
		m.stuck.Add(-1)
	}()
	j.Run()
}
