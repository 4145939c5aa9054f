package netstack

import (
	"time"

	"github.com/rlgo/redleaf/idl"
)

// The domain's cadence. Without interrupts, only a poll sees a frame
// arrive, so the polling thread trades idle CPU for latency. It polls
// again at once while polls find work; after an idle poll it sleeps,
// starting at Config.MinIdle and doubling after every further idle poll
// up to Config.Idle, so a quiet stack costs what it did with a fixed
// Idle sleep, and a busy one is seen within microseconds. Socket calls
// that give the stack something to send (Send, a Recv that opens the
// window, Dial, Shutdown, Close) kick the thread out of its sleep and
// restart the backoff.
//
// Callers waiting for sockets (Wait, PollSocks) do not poll: they block
// on a channel of their own, and the polling thread checks the waiters
// after every poll (and Close and Shutdown after theirs), waking those
// whose sockets are ready. Waiters and their timers are reused: a wait
// allocates nothing once the domain has seen as many at once.

// waiter is a caller blocked in Wait or PollSocks.
type waiter struct {
	ch   chan struct{} // buffered 1: a wake-up
	t    *time.Timer   // its deadline
	h    int64         // Wait's socket (req nil)
	want uint8         // Wait's events
	req  *idl.SockPoll // PollSocks' sockets
	n    int           // PollSocks' count
}

// idleSleep is the polling thread's sleep after quiet consecutive idle
// polls (quiet >= 1).
func (s *Service) idleSleep(quiet int) time.Duration {
	d := s.cfg.MinIdle
	for i := 1; i < quiet; i++ {
		if d >= s.cfg.Idle/2 { // and no overflow, whatever Idle is
			return s.cfg.Idle
		}
		d *= 2
	}
	return min(d, s.cfg.Idle)
}

// sleep is the polling thread's idle sleep: d, or until a socket call
// kicks it. It reports whether it was kicked.
func (s *Service) sleep(d time.Duration) bool {
	s.ctx.Check()
	s.pollTimer.Reset(d)
	kicked := false
	select {
	case <-s.pollTimer.C:
	case <-s.kick:
		kicked = true
	case <-s.ctx.Done():
	}
	s.pollTimer.Stop()
	s.ctx.Check() // unwinds when the instance died meanwhile
	return kicked
}

// kickPoll wakes the polling thread: a socket call queued something.
func (s *Service) kickPoll() {
	select {
	case s.kick <- struct{}{}:
	default: // already kicked
	}
}

// satisfied reports whether w's wait is over (under mu).
func (s *Service) satisfied(w *waiter) bool {
	if w.req != nil {
		return s.pollLocked(w.req, w.n)
	}
	k, _, err := s.lookup("wait", w.h, free)
	return err != nil || ready(k)&w.want != 0
}

// wake wakes the waiters whose sockets are ready and takes them off the
// list (under mu). It reports whether it woke any.
func (s *Service) wake() bool {
	woke := false
	for i := 0; i < len(s.waiters); {
		w := s.waiters[i]
		if !s.satisfied(w) {
			i++
			continue
		}
		select {
		case w.ch <- struct{}{}:
		default:
		}
		woke = true
		last := len(s.waiters) - 1
		s.waiters[i], s.waiters[last] = s.waiters[last], nil
		s.waiters = s.waiters[:last]
	}
	return woke
}

// block waits, after a check under mu found the wait not over, until the
// polling thread wakes w, its deadline, or the instance's death. It
// reports whether the deadline passed.
func (s *Service) block(w *waiter, deadline time.Time) (timedOut bool) {
	d := time.Until(deadline)
	if d <= 0 {
		s.unwait(w)
		return true
	}
	w.t.Reset(d)
	select {
	case <-w.ch:
	case <-w.t.C:
		timedOut = true
	case <-s.ctx.Done():
	}
	w.t.Stop()
	s.unwait(w)
	s.ctx.Check()
	return timedOut
}

// newWaiter takes a spare waiter and puts it on the list (under mu).
func (s *Service) newWaiter() *waiter {
	var w *waiter
	if n := len(s.spare); n > 0 {
		w, s.spare = s.spare[n-1], s.spare[:n-1]
	} else {
		t := time.NewTimer(time.Hour)
		t.Stop()
		w = &waiter{ch: make(chan struct{}, 1), t: t}
	}
	s.waiters = append(s.waiters, w)
	return w
}

// unwait takes w off the list if it is still there, drains its wake-up
// and keeps it for the next wait.
func (s *Service) unwait(w *waiter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.waiters {
		if x == w {
			last := len(s.waiters) - 1
			s.waiters[i], s.waiters[last] = s.waiters[last], nil
			s.waiters = s.waiters[:last]
			break
		}
	}
	select {
	case <-w.ch:
	default:
	}
	w.req, w.n, w.h, w.want = nil, 0, 0, 0
	s.spare = append(s.spare, w)
}
