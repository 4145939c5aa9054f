package stack

// A seqnum is a TCP sequence number: arithmetic and comparisons are modulo
// 2^32 (RFC 9293 section 3.4).
type seqnum uint32

func (a seqnum) lt(b seqnum) bool  { return int32(a-b) < 0 }
func (a seqnum) leq(b seqnum) bool { return int32(a-b) <= 0 }
func (a seqnum) gt(b seqnum) bool  { return int32(a-b) > 0 }
func (a seqnum) geq(b seqnum) bool { return int32(a-b) >= 0 }
func (a seqnum) add(n int) seqnum  { return a + seqnum(n) }

// diff is a-b as a signed distance.
func (a seqnum) diff(b seqnum) int { return int(int32(a - b)) }

// inWindow reports whether lo <= a < lo+n.
func (a seqnum) inWindow(lo seqnum, n int) bool {
	d := a.diff(lo)
	return d >= 0 && d < n
}
