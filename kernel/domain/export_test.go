package domain

// ImplOf exposes what d's constructor returned, for the test that walks
// what domains hold.
func ImplOf(d *Domain) any {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.impl
}

// DeadlineTimer and TimerSource are the clock of calls with a deadline.
type (
	DeadlineTimer = deadlineTimer
	TimerSource   = timerSource
)

// SetTimers makes the calls with a deadline of m's domains wait on timers
// from src (of a comparable type: a pointer) instead of the clock, so that
// a test decides which deadlines pass. Call it before m's first such call.
func SetTimers(m *Manager, src TimerSource) { m.timers = src }
