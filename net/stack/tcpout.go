package stack

import (
	"encoding/binary"
	"time"
)

// macFor is the link address to send a reply to raddr: the cached one,
// or broadcast-free fallback zero (the frame is dropped by any switch).
func (s *Stack) macFor(raddr [4]byte) [6]byte {
	mac, _ := s.resolveCached(raddr)
	return mac
}

// emit sends a segment of connection c: flags, sequence number sq, and n
// bytes of the send ring from offset off. It reports false when the next
// hop's address is not known yet (an ARP request is out).
func (t *tcpTable) emit(c *tcb, flags uint8, sq seqnum, off, n int) bool {
	mac, ok := t.s.resolve(c.raddr, t.s.now)
	if !ok {
		c.waitARP = true
		return false
	}
	t.emitTo(c, mac, flags, sq, c.rcvNxt, off, n)
	return true
}

// emitTo builds and queues a segment to mac. A connection's ACK number
// and window come from c; resetFor passes a bare tcb.
func (t *tcpTable) emitTo(c *tcb, mac [6]byte, flags uint8, sq, ack seqnum, off, n int) {
	s := t.s
	f := s.txFrame()
	if f == nil {
		return
	}
	optLen := 0
	if flags&flagSYN != 0 {
		optLen = 4 // MSS
		if c.state == StateSynSent || c.wsOK {
			optLen = 8 // NOP, window scale
		}
	}
	hl := tcpHeaderLen + optLen
	seg := f[etherHeaderLen+ipv4HeaderLen:]
	binary.BigEndian.PutUint16(seg[0:], c.lport)
	binary.BigEndian.PutUint16(seg[2:], c.rport)
	binary.BigEndian.PutUint32(seg[4:], uint32(sq))
	if flags&flagACK == 0 {
		ack = 0
	}
	binary.BigEndian.PutUint32(seg[8:], uint32(ack))
	seg[12] = byte(hl/4) << 4
	seg[13] = flags
	binary.BigEndian.PutUint16(seg[14:], t.window(c, flags))
	seg[16], seg[17], seg[18], seg[19] = 0, 0, 0, 0
	if optLen > 0 {
		o := seg[tcpHeaderLen:]
		o[0], o[1] = optMSS, 4
		binary.BigEndian.PutUint16(o[2:], uint16(s.cfg.MTU-ipv4HeaderLen-tcpHeaderLen))
		if optLen == 8 {
			o[4], o[5], o[6], o[7] = optNOP, optWScale, 3, c.rcvShift
		}
	}
	if n > 0 {
		c.snd.readAt(off, seg[hl:hl+n])
	}
	binary.BigEndian.PutUint16(seg[16:], fold(sum(pseudoSum(s.cfg.Addr, c.raddr, protoTCP, hl+n), seg[:hl+n])))
	putEther(f, mac, s.mac, etherTypeIPv4)
	s.putIPv4(f[etherHeaderLen:], c.raddr, protoTCP, hl+n)
	s.txCommit(f, etherHeaderLen+ipv4HeaderLen+hl+n)
	s.stats.TCPSegsOut++
	if flags&flagACK != 0 && c.inUse {
		c.ackNow = false
	}
}

// window is the receive window field for a segment of c, with
// receiver-side silly window avoidance (RFC 9293 3.8.6.2.2): the right
// edge moves only by at least an MSS or half the buffer, and never back.
func (t *tcpTable) window(c *tcb, flags uint8) uint16 {
	if !c.inUse {
		return 0
	}
	free := c.rcv.free()
	if flags&flagSYN != 0 {
		c.rcvAdv = c.rcvNxt.add(min(free, 0xffff))
		return uint16(min(free, 0xffff))
	}
	right := c.rcvNxt.add(free)
	step := min(c.mss, len(c.rcv.buf)/2)
	if c.mss == 0 {
		step = len(c.rcv.buf) / 2
	}
	if right.diff(c.rcvAdv) >= step || c.rcvAdv.lt(c.rcvNxt) {
		c.rcvAdv = right
	}
	w := max(c.rcvAdv.diff(c.rcvNxt), 0) >> c.rcvShift
	w = min(w, 0xffff)
	c.rcvAdv = c.rcvNxt.add(w << c.rcvShift)
	return uint16(w)
}

// emitAck sends a bare ACK for c now.
func (t *tcpTable) emitAck(c *tcb) {
	t.emit(c, flagACK, c.nxt, 0, 0)
}

// output lets every connection on the output list send.
func (t *tcpTable) output(now time.Duration) {
	for k := 0; k < len(t.dirty); k++ {
		i := t.dirty[k]
		c := &t.c[i]
		c.dirty = false
		if c.inUse {
			t.send(i, now)
		}
	}
	t.dirty = t.dirty[:0]
}

// send emits what connection i has to send: its SYN, retransmissions, new
// data within the windows, its FIN and the ACK it owes.
func (t *tcpTable) send(i int32, now time.Duration) {
	c := &t.c[i]
	switch c.state {
	case StateClosed, StateListen:
		return
	case StateSynSent, StateSynReceived:
		if c.synPending {
			flags := uint8(flagSYN)
			if c.state == StateSynReceived {
				flags |= flagACK
			}
			if !t.emit(c, flags, c.iss, 0, 0) {
				if c.rtoAt == 0 { // an attempt all the same: SynRetries bounds the wait for ARP
					t.arm(&c.rtoAt, now+c.rto)
				}
				return
			}
			c.synPending = false
			c.nxt, c.sndMax = c.iss.add(1), c.iss.add(1)
			if c.retries == 0 && !c.rttTiming {
				c.rttTiming, c.rttSeq, c.rttAt = true, c.iss.add(1), now
			}
			if c.rtoAt == 0 {
				t.arm(&c.rtoAt, now+c.rto)
			}
		}
		if c.ackNow && c.state == StateSynReceived {
			t.emit(c, flagACK, c.sndMax, 0, 0)
		}
		return
	}
	if c.retransmitFirst {
		c.retransmitFirst = false
		n := min(c.mss, c.snd.n)
		fl := uint8(flagACK)
		if n == c.snd.n && c.finSent && !c.finAcked() {
			fl |= flagFIN
		}
		if n > 0 || fl&flagFIN != 0 {
			if !t.emit(c, fl, c.una, 0, n) {
				return
			}
			t.s.stats.TCPRetransmits++
			t.arm(&c.rtoAt, now+c.rto)
		}
	}
	if c.state != StateTimeWait {
		if !t.sendData(i, now) {
			return
		}
	}
	if c.ackNow {
		t.emit(c, flagACK, c.nxt, 0, 0)
	}
}

// sendData sends new data (or data again after a timeout) as the
// congestion and peer windows allow, then the FIN. False: waiting for ARP.
func (t *tcpTable) sendData(i int32, now time.Duration) bool {
	c := &t.c[i]
	end := c.dataEnd()
	for c.nxt.lt(end) {
		inflight := c.nxt.diff(c.una)
		room := min(c.cwnd, c.sndWnd) - inflight
		left := end.diff(c.nxt)
		n := min(c.mss, left, room)
		if c.forceOne && c.sndWnd == 0 && inflight == 0 {
			n = 1
		}
		c.forceOne = false
		if n <= 0 {
			if c.sndWnd == 0 && c.rtoAt == 0 {
				t.arm(&c.rtoAt, now+c.rto) // the persist timer
			}
			break
		}
		// Sender-side silly window avoidance: no small segment while
		// acknowledgements will open the window further.
		if n < c.mss && n < left && inflight > 0 {
			break
		}
		fl := uint8(flagACK)
		if n == left {
			fl |= flagPSH
			if c.finQueued && !c.finAcked() {
				fl |= flagFIN
			}
		}
		if !t.emit(c, fl, c.nxt, c.nxt.diff(c.una), n) {
			if c.rtoAt == 0 {
				t.arm(&c.rtoAt, now+c.rto)
			}
			return false
		}
		if c.nxt.lt(c.sndMax) {
			t.s.stats.TCPRetransmits++
		} else if !c.rttTiming {
			c.rttTiming, c.rttSeq, c.rttAt = true, c.nxt.add(n), now
		}
		c.nxt = c.nxt.add(n)
		if fl&flagFIN != 0 {
			c.finSent, c.finSeq = true, c.nxt
			c.nxt = c.nxt.add(1)
		}
		if c.nxt.gt(c.sndMax) {
			c.sndMax = c.nxt
		}
		if c.rtoAt == 0 {
			t.arm(&c.rtoAt, now+c.rto)
		}
	}
	if c.finQueued && c.nxt == end && !c.finAcked() {
		if !t.emit(c, flagACK|flagFIN, c.nxt, 0, 0) {
			return false
		}
		c.finSent, c.finSeq = true, c.nxt
		c.nxt = c.nxt.add(1)
		if c.nxt.gt(c.sndMax) {
			c.sndMax = c.nxt
		}
		if c.rtoAt == 0 {
			t.arm(&c.rtoAt, now+c.rto)
		}
	}
	return true
}

// timers fires the due timers of every connection.
func (t *tcpTable) timers(now time.Duration) {
	if t.timerMin == 0 || now < t.timerMin {
		return
	}
	t.timerMin = 0
	next := time.Duration(0)
	keep := func(at time.Duration) {
		if at != 0 && (next == 0 || at < next) {
			next = at
		}
	}
	for k := range t.hiWater {
		i := int32(k)
		c := &t.c[i]
		if !c.inUse {
			continue
		}
		if c.twAt != 0 && now >= c.twAt {
			c.twAt = 0
			if c.state == StateTimeWait || c.state == StateFinWait2 {
				t.closeConn(i, ErrClosed)
				if !c.inUse {
					continue
				}
			}
		}
		if c.rtoAt != 0 && now >= c.rtoAt {
			c.rtoAt = 0
			t.retransmitTimer(i, now)
		}
		if c.kaAt != 0 && now >= c.kaAt && c.inUse {
			c.kaAt = 0
			t.keepAliveTimer(i, now)
		}
		if c.inUse {
			keep(c.rtoAt)
			keep(c.kaAt)
			keep(c.twAt)
		}
	}
	if next != 0 && (t.timerMin == 0 || next < t.timerMin) {
		t.timerMin = next
	}
}

// retransmitTimer handles an expiry of the retransmission (or persist)
// timer (RFC 6298 5.4-5.6, RFC 5681 3.1).
func (t *tcpTable) retransmitTimer(i int32, now time.Duration) {
	c := &t.c[i]
	s := t.s
	switch c.state {
	case StateSynSent, StateSynReceived:
		c.retries++
		if c.retries > s.cfg.SynRetries {
			t.closeConn(i, ErrTimeout)
			return
		}
		s.stats.TCPTimeouts++
		s.stats.TCPRetransmits++
		c.rttTiming = false
		c.rto = min(2*c.rto, s.cfg.MaxRTO)
		c.synPending = true
		t.markDirty(i)
		return
	case StateClosed, StateListen, StateTimeWait:
		return
	}
	if c.flight() == 0 {
		if c.waitARP { // nothing could go out: count it as a retransmission
			c.retries++
			if c.retries > s.cfg.MaxRetries {
				t.closeConn(i, ErrTimeout)
				return
			}
			c.rto = min(2*c.rto, s.cfg.MaxRTO)
			t.arm(&c.rtoAt, now+c.rto)
			t.markDirty(i)
			return
		}
		if c.sndWnd == 0 && c.snd.n > 0 { // persist: probe the zero window
			c.forceOne = true
			c.rto = min(2*c.rto, s.cfg.MaxRTO)
			t.markDirty(i)
		}
		return
	}
	c.retries++
	if c.retries > s.cfg.MaxRetries {
		t.abort(i, ErrTimeout)
		return
	}
	s.stats.TCPTimeouts++
	if c.retries == 1 {
		c.ssthresh = max(c.flight()/2, 2*c.mss)
	}
	c.cwnd = c.mss
	c.caAcc = 0
	c.inRecovery = false
	c.recover = c.sndMax
	c.dupAcks = 0
	c.rttTiming = false
	c.nxt = c.una              // go back: resend from the first unacknowledged byte
	c.forceOne = c.sndWnd == 0 // a window probe went unanswered: probe again
	c.rto = min(2*c.rto, s.cfg.MaxRTO)
	t.arm(&c.rtoAt, now+c.rto)
	t.markDirty(i)
}

// keepAliveTimer sends a keep-alive probe, or drops the connection after
// KeepAliveCount unanswered ones (RFC 1122 4.2.3.6).
func (t *tcpTable) keepAliveTimer(i int32, now time.Duration) {
	c := &t.c[i]
	if !c.keepAlive || !c.state.synchronized() || c.state == StateTimeWait {
		return
	}
	if c.kaProbes >= t.s.cfg.KeepAliveCount {
		t.abort(i, ErrTimeout)
		return
	}
	c.kaProbes++
	t.s.stats.TCPKeepAliveProbes++
	t.emit(c, flagACK, c.una.add(-1), 0, 0)
	t.arm(&c.kaAt, now+t.s.cfg.KeepAliveInterval)
}

func (t *tcpTable) nextTimer() (time.Duration, bool) {
	return t.timerMin, t.timerMin != 0
}
