package stack

import "time"

// handleTCP checks a segment and hands it to its connection or listener,
// or answers it with a RST.
func (s *Stack) handleTCP(eh *etherHeader, h *ipv4Header, b []byte, now time.Duration) {
	if len(b) < tcpHeaderLen || fold(sum(pseudoSum(h.src, h.dst, protoTCP, len(b)), b)) != 0 {
		s.stats.TCPBadSegments++
		s.stats.RxChecksumErrors++
		return
	}
	g, err := parseTCP(b)
	if err != nil || g.sport == 0 || g.dport == 0 {
		s.stats.TCPBadSegments++
		return
	}
	s.stats.TCPSegsIn++
	t := &s.tcp
	if i := t.lookup(h.src, g.sport, g.dport); i >= 0 && !t.reopen(i, &g) {
		t.segment(i, &g, now)
		return
	}
	for li := range t.listeners {
		if l := &t.listeners[li]; l.port == g.dport {
			t.listen(int32(li), h.src, eh.src, &g, now)
			return
		}
	}
	t.resetFor(h.src, eh.src, &g)
}

// reopen ends connection i, in TIME-WAIT, for a SYN that opens a new
// incarnation of its 4-tuple (RFC 1122 4.2.2.13, as Linux and the BSDs
// do): a bare SYN to a listening port whose sequence number is beyond
// everything the old incarnation received, so no old segment can be
// taken for the new one's. Otherwise (false) the SYN goes to the old
// connection, which answers it with an ACK (RFC 9293 3.10.7.4). The peer
// reuses a port while we wait out 2*MSL: with ephemeral ports drawn at
// random, one connect in (TIME-WAIT slots / 16384) does, and without
// this it stalls until its SYN is retransmitted, a second later.
func (t *tcpTable) reopen(i int32, g *tcpSegment) bool {
	c := &t.c[i]
	if c.state != StateTimeWait || g.flags&(flagSYN|flagACK|flagRST|flagFIN) != flagSYN || !g.seq.gt(c.rcvNxt) {
		return false
	}
	for li := range t.listeners {
		if t.listeners[li].port == g.dport {
			t.closeConn(i, ErrClosed)
			t.s.stats.TCPTimeWaitReopened++
			return true
		}
	}
	return false
}

// resetFor answers a segment that belongs to no connection (RFC 9293
// 3.10.7.1): a RST that the sender accepts, unless it was a RST.
func (t *tcpTable) resetFor(raddr [4]byte, mac [6]byte, g *tcpSegment) {
	if g.flags&flagRST != 0 {
		return
	}
	var c tcb
	c.raddr, c.lport, c.rport = raddr, g.dport, g.sport
	if g.flags&flagACK != 0 {
		t.emitTo(&c, mac, flagRST, g.ack, 0, 0, 0)
	} else {
		t.emitTo(&c, mac, flagRST|flagACK, 0, g.seq.add(g.len()), 0, 0)
	}
	t.s.stats.TCPResetsSent++
}

// listen handles a segment for a listening port: a SYN opens a connection
// in SYN-RECEIVED if the backlog has room. Anything else is answered with
// a RST to the link address it came from (mac): the ARP cache may not know
// the sender, e.g. a peer of connections a restarted stack forgot.
func (t *tcpTable) listen(li int32, raddr [4]byte, mac [6]byte, g *tcpSegment, now time.Duration) {
	if g.flags&flagRST != 0 {
		return
	}
	if g.flags&flagACK != 0 || g.flags&flagSYN == 0 {
		t.resetFor(raddr, mac, g)
		return
	}
	l := &t.listeners[li]
	if l.pending+l.qLen >= l.backlog {
		t.s.stats.TCPSynDropped++
		return
	}
	i := t.alloc()
	if i < 0 {
		t.s.stats.TCPSynDropped++
		return
	}
	c := &t.c[i]
	c.raddr, c.rport, c.lport = raddr, g.sport, g.dport
	c.listener = li
	l.pending++
	c.irs, c.rcvNxt = g.seq, g.seq.add(1)
	c.rcvAdv = c.rcvNxt
	c.iss = t.s.isn(raddr, c.lport, c.rport, now)
	c.una, c.nxt, c.sndMax = c.iss, c.iss, c.iss
	t.synOptions(c, g)
	c.sndWnd = int(g.wnd)
	c.sndWl1, c.sndWl2 = g.seq, c.iss
	c.state = StateSynReceived
	c.synPending = true
	t.insert(i)
	t.markDirty(i)
}

// synOptions takes the MSS and window scale options of a SYN.
func (t *tcpTable) synOptions(c *tcb, g *tcpSegment) {
	c.mss = defaultMSS
	if g.mss != 0 {
		c.mss = int(g.mss)
	}
	c.mss = max(64, min(c.mss, t.s.cfg.MTU-ipv4HeaderLen-tcpHeaderLen))
	c.wsOK = g.wscale >= 0
	if c.wsOK {
		c.sndShift = uint8(g.wscale)
		c.rcvShift = rcvShiftFor(t.s.cfg.RecvBuf)
	} else {
		c.sndShift, c.rcvShift = 0, 0
	}
	c.cwnd = min(10*c.mss, max(2*c.mss, 14600)) // RFC 6928
	c.ssthresh = 1 << 30
}

// segment processes a segment for connection i (RFC 9293 3.10.7.3-4).
func (t *tcpTable) segment(i int32, g *tcpSegment, now time.Duration) {
	c := &t.c[i]
	if c.state == StateSynSent {
		t.synSent(i, g, now)
		return
	}
	// A live peer: keep-alive starts over.
	if c.keepAlive {
		c.kaProbes = 0
		t.arm(&c.kaAt, now+t.s.cfg.KeepAliveIdle)
	}

	// 1. Sequence number acceptable?
	wnd := c.rcv.free()
	if w := c.rcvAdv.diff(c.rcvNxt); w > wnd {
		wnd = w
	}
	n := g.len()
	var ok bool
	switch {
	case n == 0 && wnd == 0:
		ok = g.seq == c.rcvNxt
	case n == 0:
		ok = g.seq.inWindow(c.rcvNxt, wnd)
	case wnd == 0:
		ok = false
	default:
		ok = g.seq.inWindow(c.rcvNxt, wnd) || g.seq.add(n-1).inWindow(c.rcvNxt, wnd)
	}
	if !ok {
		if g.flags&flagRST == 0 {
			c.ackNow = true
			t.markDirty(i)
		}
		return
	}

	// 2. RST (RFC 5961 3.2): only an exact one resets, others get a
	// challenge ACK.
	if g.flags&flagRST != 0 {
		if g.seq != c.rcvNxt {
			t.challengeAck(i)
			return
		}
		t.s.stats.TCPResetsReceived++
		if c.state == StateSynReceived && c.listener >= 0 {
			t.closeConn(i, ErrRefused) // back to listening: the slot goes
			return
		}
		if c.state == StateTimeWait || c.state == StateLastAck || c.state == StateClosing {
			t.closeConn(i, ErrClosed)
			return
		}
		t.closeConn(i, ErrReset)
		return
	}

	// 3. SYN in a synchronized state (RFC 5961 4.2): challenge ACK.
	if g.flags&flagSYN != 0 {
		if c.state == StateSynReceived && g.seq == c.irs {
			// The peer retransmitted its SYN: our SYN-ACK was lost.
			c.synPending = true
			t.markDirty(i)
			return
		}
		t.challengeAck(i)
		return
	}

	// 4. ACK.
	if g.flags&flagACK == 0 {
		return
	}
	if c.state == StateSynReceived {
		if g.ack.leq(c.una) || g.ack.gt(c.sndMax) {
			t.resetFor(c.raddr, t.s.macFor(c.raddr), g)
			return
		}
		t.established(i, g, now)
	}
	if !t.ack(i, g, now) {
		return
	}
	if !c.inUse || c.state == StateClosed {
		return
	}

	// 5. Data, then FIN.
	switch c.state {
	case StateEstablished, StateFinWait1, StateFinWait2:
		if len(g.payload) > 0 {
			t.data(i, g)
		}
	}
	if g.flags&flagFIN != 0 {
		fin := g.seq.add(len(g.payload))
		if !c.finRcvd && !c.finSeen && fin.geq(c.rcvNxt) {
			c.finAt, c.finSeen = fin, true
		}
		c.ackNow = true
		t.markDirty(i)
	}
	if c.finSeen && !c.finRcvd && c.finAt == c.rcvNxt {
		t.finReceived(i, now)
	}
	if c.state == StateTimeWait && g.flags&flagFIN != 0 {
		t.arm(&c.twAt, now+2*t.s.cfg.MSL)
	}
}

// challengeAck sends an ACK for the current state (RFC 5961).
func (t *tcpTable) challengeAck(i int32) {
	t.s.stats.TCPChallengeAcks++
	t.c[i].ackNow = true
	t.markDirty(i)
}

// established completes a passive open: the connection goes to its
// listener's accept queue.
func (t *tcpTable) established(i int32, g *tcpSegment, now time.Duration) {
	c := &t.c[i]
	c.state = StateEstablished
	t.s.stats.TCPEstablished++
	c.una = g.ack // the SYN's sequence number
	if c.nxt.lt(c.una) {
		c.nxt = c.una
	}
	c.rtoAt = 0
	if c.rttTiming && c.retries == 0 {
		t.sampleRTT(c, now-c.rttAt)
	}
	c.rttTiming = false
	c.retries = 0
	c.sndWnd = int(g.wnd) << c.sndShift
	c.sndWl1, c.sndWl2 = g.seq, g.ack
	if c.listener >= 0 {
		l := &t.listeners[c.listener]
		l.pending--
		l.queue[(l.qHead+l.qLen)%len(l.queue)] = i
		l.qLen++
		c.queued = true
	}
	if c.finQueued {
		c.state = StateFinWait1
	}
	if c.keepAlive {
		t.arm(&c.kaAt, now+t.s.cfg.KeepAliveIdle)
	}
}

// synSent handles a segment in SYN-SENT (RFC 9293 3.10.7.3).
func (t *tcpTable) synSent(i int32, g *tcpSegment, now time.Duration) {
	c := &t.c[i]
	if g.flags&flagACK != 0 && (g.ack.leq(c.iss) || g.ack.gt(c.sndMax)) {
		t.resetFor(c.raddr, t.s.macFor(c.raddr), g)
		return
	}
	if g.flags&flagRST != 0 {
		if g.flags&flagACK != 0 {
			t.s.stats.TCPResetsReceived++
			t.closeConn(i, ErrRefused)
		}
		return
	}
	if g.flags&flagSYN == 0 {
		return
	}
	c.irs, c.rcvNxt = g.seq, g.seq.add(1)
	offered := c.rcvShift
	t.synOptions(c, g)
	if g.wscale >= 0 {
		c.rcvShift = offered
	}
	c.rcvAdv = c.rcvNxt
	if g.flags&flagACK == 0 { // simultaneous open
		c.state = StateSynReceived
		c.synPending = true
		c.sndWnd = int(g.wnd)
		c.sndWl1, c.sndWl2 = g.seq, c.iss
		t.markDirty(i)
		return
	}
	c.una = g.ack
	c.nxt = c.una
	c.state = StateEstablished
	t.s.stats.TCPEstablished++
	if c.rttTiming && c.retries == 0 {
		t.sampleRTT(c, now-c.rttAt)
	}
	c.rttTiming = false
	c.retries = 0
	c.rtoAt = 0
	c.sndWnd = int(g.wnd) // a SYN's window is never scaled
	c.sndWl1, c.sndWl2 = g.seq, g.ack
	if c.finQueued {
		c.state = StateFinWait1
	}
	if c.keepAlive {
		t.arm(&c.kaAt, now+t.s.cfg.KeepAliveIdle)
	}
	c.ackNow = true
	t.markDirty(i)
}

// windowUpdate takes the peer's window from g if g is newer than the last
// update (RFC 9293: SND.WL1/WL2).
func (t *tcpTable) windowUpdate(c *tcb, g *tcpSegment) bool {
	if c.sndWl1.lt(g.seq) || c.sndWl1 == g.seq && c.sndWl2.leq(g.ack) {
		w := int(g.wnd) << c.sndShift
		changed := w != c.sndWnd
		c.sndWnd = w
		c.sndWl1, c.sndWl2 = g.seq, g.ack
		return changed
	}
	return false
}

// ack processes the acknowledgement of g; false means drop the segment.
func (t *tcpTable) ack(i int32, g *tcpSegment, now time.Duration) bool {
	c := &t.c[i]
	if g.ack.gt(c.sndMax) { // acknowledges what was never sent
		c.ackNow = true
		t.markDirty(i)
		return false
	}
	if g.ack.lt(c.una) { // old
		t.windowUpdate(c, g)
		return true
	}
	acked := g.ack.diff(c.una)
	winChanged := t.windowUpdate(c, g)
	if acked == 0 {
		if c.sndWnd == 0 {
			// The answer to a window probe: the peer lives, its
			// window is still closed.
			c.retries = 0
			return true
		}
		if len(g.payload) == 0 && g.flags&(flagSYN|flagFIN) == 0 && !winChanged && c.flight() > 0 {
			t.dupAck(i)
		}
		if c.sndWnd > 0 && c.snd.n > c.nxt.diff(c.una) {
			t.markDirty(i) // the window may have opened
		}
		return true
	}
	// New data acknowledged.
	flight := c.flight()
	dataAcked := min(acked, c.snd.n)
	c.snd.discard(dataAcked)
	c.una = g.ack
	if c.nxt.lt(c.una) {
		c.nxt = c.una
	}
	if c.rttTiming && g.ack.geq(c.rttSeq) {
		t.sampleRTT(c, now-c.rttAt)
		c.rttTiming = false
	}
	c.retries = 0
	if c.una == c.sndMax {
		c.rtoAt = 0
	} else {
		t.arm(&c.rtoAt, now+c.rto)
	}
	// Congestion control (RFC 5681, RFC 6582).
	if c.inRecovery {
		if g.ack.geq(c.recover) { // full acknowledgement
			c.inRecovery = false
			c.cwnd = min(c.ssthresh, max(flight-acked, c.mss)+c.mss)
		} else { // partial: the next hole is lost too
			c.retransmitFirst = true
			c.cwnd = max(c.cwnd-acked, 0) + c.mss
		}
	} else if c.cwnd < c.ssthresh {
		c.cwnd += min(acked, c.mss)
	} else {
		c.caAcc += acked
		if c.caAcc >= c.cwnd {
			c.caAcc -= c.cwnd
			c.cwnd += c.mss
		}
	}
	c.dupAcks = 0
	// Our FIN acknowledged?
	if c.finAcked() {
		switch c.state {
		case StateFinWait1:
			c.state = StateFinWait2
			if !c.owned {
				t.arm(&c.twAt, now+t.s.cfg.FinTimeout)
			}
		case StateClosing:
			t.enterTimeWait(c, now)
		case StateLastAck:
			t.closeConn(i, ErrClosed)
			return false
		}
	}
	t.markDirty(i)
	return true
}

// dupAck counts a duplicate acknowledgement: the third starts fast
// retransmit and NewReno recovery, later ones inflate the window.
func (t *tcpTable) dupAck(i int32) {
	c := &t.c[i]
	t.s.stats.TCPDupAcks++
	c.dupAcks++
	switch {
	case c.dupAcks == 3 && !c.inRecovery && c.una.gt(c.recover.add(-1)):
		c.ssthresh = max(c.flight()/2, 2*c.mss)
		c.cwnd = c.ssthresh + 3*c.mss
		c.recover = c.sndMax
		c.inRecovery = true
		c.retransmitFirst = true
		c.rttTiming = false // Karn
		t.s.stats.TCPFastRetransmits++
		t.markDirty(i)
	case c.dupAcks > 3 && c.inRecovery:
		c.cwnd += c.mss
		t.markDirty(i)
	}
}

// data takes the payload of g into the receive ring: in order, or beyond
// a hole (recorded by the assembler).
func (t *tcpTable) data(i int32, g *tcpSegment) {
	c := &t.c[i]
	p := g.payload
	off := g.seq.diff(c.rcvNxt)
	if off < 0 {
		if -off >= len(p) {
			c.ackNow = true // a duplicate: ACK it so the peer stops
			t.markDirty(i)
			return
		}
		p = p[-off:]
		off = 0
	}
	room := c.rcv.free() - off
	if room <= 0 {
		c.ackNow = true
		t.markDirty(i)
		return
	}
	if len(p) > room {
		p = p[:room]
	}
	if c.readShut {
		// Nobody will read it: acknowledge and drop.
		c.rcvNxt = c.rcvNxt.add(off + len(p))
		c.ackNow = true
		t.markDirty(i)
		return
	}
	if off > 0 {
		if c.asm.add(off, off+len(p)) {
			c.rcv.writeAt(c.rcv.n+off, p)
			t.s.stats.TCPOutOfOrder++
		}
		// An immediate duplicate ACK, one per segment, for the
		// sender's fast retransmit (RFC 5681 4.2).
		t.emitAck(c)
		return
	}
	c.rcv.writeAt(c.rcv.n, p)
	extra := c.asm.advance(len(p))
	c.rcv.n += len(p) + extra
	c.rcvNxt = c.rcvNxt.add(len(p) + extra)
	c.ackNow = true
	t.markDirty(i)
}

// finReceived takes the peer's FIN, now in order.
func (t *tcpTable) finReceived(i int32, now time.Duration) {
	c := &t.c[i]
	c.finRcvd = true
	c.rcvNxt = c.rcvNxt.add(1)
	c.ackNow = true
	t.markDirty(i)
	switch c.state {
	case StateSynReceived, StateEstablished:
		c.state = StateCloseWait
	case StateFinWait1:
		if c.finAcked() {
			t.enterTimeWait(c, now)
		} else {
			c.state = StateClosing
		}
	case StateFinWait2:
		t.enterTimeWait(c, now)
	}
}
