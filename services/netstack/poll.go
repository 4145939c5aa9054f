package netstack

import (
	"errors"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/fs/errno"
)

// PollSocks implements idl.Inet: Wait over several sockets. A number that
// is no open socket is reported (SockBad, or SockStale for an earlier
// instance's) rather than failing the call, so that one closed socket
// does not hide the others' readiness.
func (s *Service) PollSocks(req idl.SockPoll, timeoutNs int64) (idl.SockPoll, error) {
	s.fp.Point(s.ctx)
	n := int(min(max(req.N, 0), idl.MaxPollSocks))
	req.N = int32(n)
	deadline := time.Now().Add(clampWait(timeoutNs))
	for {
		w := s.pollOnce(&req, n, deadline)
		if w == nil {
			return req, nil
		}
		s.block(w, deadline)
	}
}

// pollOnce fills req.Ready for its first n sockets. When none is ready
// and the deadline has not passed, it returns a waiter on the list, to
// block on (under mu, released with defer as everywhere in the domain).
func (s *Service) pollOnce(req *idl.SockPoll, n int, deadline time.Time) *waiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pollLocked(req, n) || !time.Now().Before(deadline) {
		return nil
	}
	w := s.newWaiter()
	w.req, w.n = req, n
	return w
}

// pollLocked fills req.Ready for its first n sockets and reports whether
// any is ready (under mu).
func (s *Service) pollLocked(req *idl.SockPoll, n int) bool {
	hit := false
	for i := range n {
		req.Ready[i] = 0
		k, _, err := s.lookup("poll", req.Socks[i], free)
		switch {
		case errors.Is(err, errno.ENETRESET):
			req.Ready[i] = idl.SockStale
		case err != nil:
			req.Ready[i] = idl.SockBad
		default:
			req.Ready[i] = ready(k) & (req.Events[i] | idl.SockClosed)
		}
		if req.Ready[i] != 0 {
			hit = true
		}
	}
	return hit
}
