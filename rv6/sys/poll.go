package sys

import (
	"fmt"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/fs/errno"
)

// Poll. A request names at most idl.MaxPoll descriptors. Files and
// directories are always ready; pipes and the console are looked at under
// their locks; sockets are asked of their stacks in one Inet.PollSocks per
// stack. To wait, a poll registers a wake-up channel on the pipes and the
// console it names (their changes signal it) and, if it names sockets,
// waits in the stack: the whole wait when it names only sockets of one
// stack, else steps of pollMixedStep between which it looks at the wake-up
// channel (so a mixed poll sees a pipe's change at most that late). Every
// step is at most sockStep, so a killed process's poll returns EINTR that
// late at most.

// pollMixedStep is the step of a poll over sockets and other descriptors.
const pollMixedStep = 5 * time.Millisecond

// A poller is the wake-up channel of one waiting poll.
type poller chan struct{}

// signal wakes the poll without blocking (one pending wake-up is enough).
func (w poller) signal() {
	select {
	case w <- struct{}{}:
	default:
	}
}

// pollEntry is one descriptor of a poll.
type pollEntry struct {
	o      *ofile
	events uint8
}

// sockGroup is the sockets of one stack in a poll.
type sockGroup struct {
	inet idl.Inet
	idx  []int // entries of the request
	req  idl.SockPoll
}

// Poll waits for descriptors to be ready (see idl.Sys).
func (p *process) Poll(req idl.PollReq, timeoutNs int64) (idl.PollReq, int32, error) {
	if req.N < 0 || req.N > idl.MaxPoll {
		return req, 0, fmt.Errorf("poll: %d descriptors: want 0..%d: %w", req.N, idl.MaxPoll, errno.EINVAL)
	}
	n := int(req.N)
	ents := make([]pollEntry, n)
	defer func() {
		for _, e := range ents {
			if e.o != nil {
				e.o.release()
			}
		}
	}()
	var groups []*sockGroup
	for i := range n {
		f := &req.Fds[i]
		f.Revents = 0
		if f.Fd < 0 {
			continue
		}
		o, err := p.get(f.Fd)
		if err != nil {
			f.Revents = idl.PollNval
			continue
		}
		ents[i] = pollEntry{o: o, events: f.Events}
		if o.kind == kindSocket {
			g := groupOf(&groups, o.sock.inet)
			g.idx = append(g.idx, i)
		}
	}
	var deadline time.Time
	if timeoutNs > 0 {
		deadline = time.Now().Add(time.Duration(timeoutNs))
	}
	var wake poller
	defer func() {
		if wake != nil {
			for _, e := range ents {
				if e.o != nil {
					unwatch(e.o, wake)
				}
			}
		}
	}()
	local := false
	for _, e := range ents {
		if e.o != nil && e.o.kind != kindSocket {
			local = true
		}
	}
	for {
		if ready := p.pollOnce(&req, ents, groups); ready > 0 || timeoutNs == 0 {
			return req, ready, nil
		}
		left := time.Duration(-1)
		if timeoutNs > 0 {
			if left = time.Until(deadline); left <= 0 {
				return req, 0, nil
			}
		}
		if wake == nil && local {
			wake = make(poller, 1)
			for _, e := range ents {
				if e.o != nil {
					watch(e.o, wake)
				}
			}
			continue // a change before the watch is seen by looking again
		}
		if err := p.pollWait(wake, groups, local, left); err != nil {
			return req, 0, fmt.Errorf("poll: %w", err)
		}
	}
}

// groupOf is the group of stack inet, added if new.
func groupOf(groups *[]*sockGroup, inet idl.Inet) *sockGroup {
	for _, g := range *groups {
		if g.inet == inet {
			return g
		}
	}
	g := &sockGroup{inet: inet}
	*groups = append(*groups, g)
	return g
}

// pollWait waits for a change: in the stack (sockets only) or on wake,
// for at most left (< 0: a step).
func (p *process) pollWait(wake poller, groups []*sockGroup, local bool, left time.Duration) error {
	step := sockStep
	if local && len(groups) > 0 || len(groups) > 1 {
		step = pollMixedStep
	}
	if left >= 0 {
		step = min(step, left)
	}
	if len(groups) == 1 && !local && groups[0].req.N > 0 {
		select {
		case <-p.stop:
			return errno.EINTR
		default:
		}
		g := groups[0] // g.req is what pollOnce asked
		p.blocked.Add(1)
		_, err := g.inet.PollSocks(g.req, int64(step))
		p.blocked.Add(-1)
		return err
	}
	if len(groups) == 0 {
		step = sockStep
		if left >= 0 {
			step = min(step, left)
		}
	}
	t := time.NewTimer(step)
	defer t.Stop()
	p.blocked.Add(1)
	defer p.blocked.Add(-1)
	select {
	case <-wake:
	case <-t.C:
	case <-p.stop:
		return errno.EINTR
	case <-p.rv.ctx.Done():
		p.rv.ctx.Check()
		return errno.EINTR
	}
	return nil
}

// pollOnce fills in req's Revents and returns how many are ready.
func (p *process) pollOnce(req *idl.PollReq, ents []pollEntry, groups []*sockGroup) int32 {
	var ready int32
	for i, e := range ents {
		f := &req.Fds[i]
		if e.o == nil {
			if f.Revents != 0 {
				ready++
			}
			continue
		}
		if e.o.kind == kindSocket {
			continue
		}
		f.Revents = localReady(e.o) & (e.events | idl.PollErr | idl.PollHup | idl.PollNval)
		if f.Revents != 0 {
			ready++
		}
	}
	for _, g := range groups {
		g.req.N = 0
		var slots []int // the request's slot of each entry, -1: answered here
		for _, i := range g.idx {
			s := ents[i].o.sock
			ev := ents[i].events
			h, dead := s.state()
			switch {
			case dead != nil:
				req.Fds[i].Revents = idl.PollErr | idl.PollHup | ev&idl.PollIn
				slots = append(slots, -1)
				continue
			case h == 0: // not connected, bound or listening
				if s.dgram {
					req.Fds[i].Revents = ev & idl.PollOut
				} else {
					req.Fds[i].Revents = idl.PollHup | ev&idl.PollOut
				}
				slots = append(slots, -1)
				continue
			}
			var sev uint8
			if ev&idl.PollIn != 0 {
				sev |= idl.SockReadable
			}
			if ev&idl.PollOut != 0 {
				sev |= idl.SockWritable
			}
			k := g.req.N
			g.req.Socks[k], g.req.Events[k] = h, sev
			g.req.N++
			slots = append(slots, int(k))
		}
		var res idl.SockPoll
		var err error
		if g.req.N > 0 {
			res, err = g.inet.PollSocks(g.req, 0)
		}
		for j, i := range g.idx {
			k := slots[j]
			if k >= 0 {
				f := &req.Fds[i]
				if err != nil {
					f.Revents = idl.PollErr
					ents[i].o.sock.fail(err)
				} else {
					f.Revents = sockRevents(ents[i].o.sock, res.Ready[k], ents[i].events)
				}
			}
			if req.Fds[i].Revents != 0 {
				ready++
			}
		}
	}
	return ready
}

// sockRevents turns a socket's readiness into poll events.
func sockRevents(s *sock, r uint8, events uint8) uint8 {
	var ev uint8
	if r&idl.SockReadable != 0 {
		ev |= idl.PollIn
	}
	if r&idl.SockWritable != 0 {
		ev |= idl.PollOut
	}
	if r&idl.SockClosed != 0 {
		ev |= idl.PollHup
	}
	if r&idl.SockStale != 0 {
		s.fail(fmt.Errorf("poll: %w", errno.ENETRESET))
		ev |= idl.PollErr | idl.PollHup | idl.PollIn
	}
	if r&idl.SockBad != 0 {
		ev |= idl.PollNval
	}
	return ev & (events | idl.PollErr | idl.PollHup | idl.PollNval)
}

// localReady is the readiness of a description other than a socket.
func localReady(o *ofile) uint8 {
	switch o.kind {
	case kindFile, kindDir:
		var ev uint8
		if o.readable() {
			ev |= idl.PollIn
		}
		if o.writable() {
			ev |= idl.PollOut
		}
		return ev
	case kindPipeRead:
		pp := o.pipe
		pp.mu.Lock()
		defer pp.mu.Unlock()
		switch {
		case pp.n > 0:
			return idl.PollIn
		case !pp.writers:
			return idl.PollIn | idl.PollHup
		}
		return 0
	case kindPipeWrite:
		pp := o.pipe
		pp.mu.Lock()
		defer pp.mu.Unlock()
		switch {
		case !pp.readers:
			return idl.PollErr
		case pp.n < len(pp.buf):
			return idl.PollOut
		}
		return 0
	case kindConsole:
		c := o.cons
		c.mu.Lock()
		defer c.mu.Unlock()
		c.startLocked()
		if len(c.in) > 0 || c.eofs > 0 || c.ended || c.err != nil {
			return idl.PollIn | idl.PollOut
		}
		return idl.PollOut
	}
	return 0
}

// watch registers w to be signaled on changes of o (a pipe or the console).
func watch(o *ofile, w poller) {
	switch o.kind {
	case kindPipeRead, kindPipeWrite:
		o.pipe.mu.Lock()
		o.pipe.pollers = append(o.pipe.pollers, w)
		o.pipe.mu.Unlock()
	case kindConsole:
		o.cons.mu.Lock()
		o.cons.pollers = append(o.cons.pollers, w)
		o.cons.mu.Unlock()
	}
}

// unwatch undoes watch.
func unwatch(o *ofile, w poller) {
	switch o.kind {
	case kindPipeRead, kindPipeWrite:
		o.pipe.mu.Lock()
		o.pipe.pollers = dropPoller(o.pipe.pollers, w)
		o.pipe.mu.Unlock()
	case kindConsole:
		o.cons.mu.Lock()
		o.cons.pollers = dropPoller(o.cons.pollers, w)
		o.cons.mu.Unlock()
	}
}

func dropPoller(ws []poller, w poller) []poller {
	for i, x := range ws {
		if x == w {
			ws[i] = ws[len(ws)-1]
			ws[len(ws)-1] = nil
			return ws[:len(ws)-1]
		}
	}
	return ws
}
