package maglev

import "time"

// A Flow is a packet's 5-tuple.
type Flow struct {
	Src, Dst     [4]byte
	SPort, DPort uint16
	Proto        uint8
}

// Hash is the flow's hash (for the table and the tracker): a 64-bit mix
// of the tuple, allocation-free.
func (f Flow) Hash() uint64 {
	a := uint64(f.Src[0])<<24 | uint64(f.Src[1])<<16 | uint64(f.Src[2])<<8 | uint64(f.Src[3])
	b := uint64(f.Dst[0])<<24 | uint64(f.Dst[1])<<16 | uint64(f.Dst[2])<<8 | uint64(f.Dst[3])
	h := a<<32 | b
	h ^= (uint64(f.SPort)<<16 | uint64(f.DPort)) << 8 * 0x9e3779b97f4a7c15
	h ^= uint64(f.Proto) * 0xc2b2ae3d27d4eb4f
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// A Tracker remembers which backend each recent flow went to: a fixed
// open-addressed table; a flow idle for Timeout, or pushed out by a full
// neighbourhood (the oldest of probeLen slots goes), is forgotten.
type Tracker struct {
	slots   []trackSlot
	mask    uint64
	timeout time.Duration
	// Counters.
	Hits, Misses, Evictions uint64
}

type trackSlot struct {
	flow    Flow
	backend string // by name: indexes change when the table is rebuilt
	index   int
	gen     uint64 // the table generation index was valid in
	seen    time.Duration
	used    bool
}

const probeLen = 8

// NewTracker makes a tracker of at least n flows (rounded up to a power
// of two) forgetting flows idle for timeout.
func NewTracker(n int, timeout time.Duration) *Tracker {
	size := 16
	for size < n {
		size <<= 1
	}
	return &Tracker{slots: make([]trackSlot, size), mask: uint64(size - 1), timeout: timeout}
}

// find returns the slot of f (ok) or the slot to put it in.
func (t *Tracker) find(f Flow, h uint64, now time.Duration) (*trackSlot, bool) {
	var victim *trackSlot
	for k := range uint64(probeLen) {
		s := &t.slots[(h+k)&t.mask]
		if s.used && now-s.seen > t.timeout {
			s.used = false
		}
		if s.used && s.flow == f {
			return s, true
		}
		if victim == nil || !s.used && victim.used || s.used && victim.used && s.seen < victim.seen {
			victim = s
		}
	}
	return victim, false
}
