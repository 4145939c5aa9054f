package maglev

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/rlgo/redleaf/net/stack"
)

// A Balancer forwards packets to backends: conntrack first, then the
// table. Not safe for concurrent use: one thread runs its loop.
type Balancer struct {
	table   *Table
	gen     uint64
	byName  map[string]int
	tracker *Tracker
	mac     [6]byte
	tx      [][]byte
	// earlier are the packet counts of backends of earlier tables, by
	// name (folded in when the table changes).
	earlier map[string]uint64
	// Counters.
	Forwarded, Dropped uint64
	// PerBackend counts the packets sent to each backend of the current
	// table (by index in Table().Backends()); Counts adds earlier tables'.
	PerBackend []uint64
}

// NewBalancer makes a balancer over table with a tracker; mac is its own
// address (the source of forwarded frames).
func NewBalancer(table *Table, tracker *Tracker, mac [6]byte) *Balancer {
	b := &Balancer{table: table, tracker: tracker, mac: mac, tx: make([][]byte, 0, 256), earlier: map[string]uint64{}}
	b.reindex()
	return b
}

// reindex starts a new generation for the current table's backends,
// folding the packet counts of the previous one into earlier.
func (b *Balancer) reindex() {
	for name, i := range b.byName {
		b.earlier[name] += b.PerBackend[i]
	}
	b.gen++
	b.byName = make(map[string]int, len(b.table.backends))
	for i, be := range b.table.backends {
		b.byName[be.Name] = i
	}
	b.PerBackend = make([]uint64, len(b.table.backends))
}

// SetBackends refills the table with a new set of backends (one removed,
// added, reweighted). Tracked flows stay on their backend if it is still
// there; the others are looked up again.
func (b *Balancer) SetBackends(backends []Backend) error {
	if err := b.table.Populate(backends); err != nil {
		return err
	}
	b.reindex()
	return nil
}

// SetTable switches to table t, filled elsewhere (by another thread,
// while this one kept forwarding): the switch itself only rebuilds the
// index of backend names, so the forwarding loop pauses for O(backends),
// not for the O(M) population. The same rule as SetBackends holds for
// tracked flows. The balancer owns t from now on.
func (b *Balancer) SetTable(t *Table) {
	b.table = t
	b.reindex()
}

// Table is the current lookup table (read it from the forwarding thread
// only).
func (b *Balancer) Table() *Table { return b.table }

// Tracker is the connection tracker (nil: none).
func (b *Balancer) Tracker() *Tracker { return b.tracker }

// Counts are the packets sent to each backend, by name, this table's and
// earlier ones' (a removed backend keeps its count).
func (b *Balancer) Counts() map[string]uint64 {
	c := make(map[string]uint64, len(b.earlier)+len(b.byName))
	for name, n := range b.earlier {
		c[name] = n
	}
	for name, i := range b.byName {
		c[name] += b.PerBackend[i]
	}
	return c
}

// Pick returns the backend index for flow f at time now.
func (b *Balancer) Pick(f Flow, now time.Duration) int {
	h := f.Hash()
	t := b.tracker
	if t == nil {
		return b.table.Lookup(h)
	}
	s, ok := t.find(f, h, now)
	if ok {
		if s.gen == b.gen {
			s.seen = now
			t.Hits++
			return s.index
		}
		if i, alive := b.byName[s.backend]; alive {
			s.index, s.gen, s.seen = i, b.gen, now
			t.Hits++
			return i
		}
	}
	t.Misses++
	if s.used && !ok {
		t.Evictions++
	}
	i := b.table.Lookup(h)
	*s = trackSlot{flow: f, backend: b.table.backends[i].Name, index: i, gen: b.gen, seen: now, used: true}
	return i
}

// ParseFlow reads the 5-tuple of an Ethernet/IPv4 frame (ports for TCP
// and UDP, 0 otherwise; a fragment has none).
func ParseFlow(frame []byte) (Flow, bool) {
	if len(frame) < 34 || binary.BigEndian.Uint16(frame[12:]) != 0x0800 || frame[14]>>4 != 4 {
		return Flow{}, false
	}
	ip := frame[14:]
	ihl := int(ip[0]&0xf) * 4
	if ihl < 20 || len(ip) < ihl {
		return Flow{}, false
	}
	f := Flow{Src: [4]byte(ip[12:16]), Dst: [4]byte(ip[16:20]), Proto: ip[9]}
	frag := binary.BigEndian.Uint16(ip[6:])&0x1fff != 0
	if (f.Proto == 6 || f.Proto == 17) && !frag && len(ip) >= ihl+4 {
		f.SPort = binary.BigEndian.Uint16(ip[ihl:])
		f.DPort = binary.BigEndian.Uint16(ip[ihl+2:])
	}
	return f, true
}

// Steer picks frame's backend and rewrites the frame in place for it:
// destination MAC the backend's, source MAC the balancer's; the IP packet
// is untouched (the backend holds the service address and answers the
// client directly). It returns false, counting a drop, for a frame that
// is not IPv4. It allocates nothing.
func (b *Balancer) Steer(frame []byte, now time.Duration) bool {
	f, ok := ParseFlow(frame)
	if !ok {
		b.Dropped++
		return false
	}
	i := b.Pick(f, now)
	be := &b.table.backends[i]
	copy(frame[0:6], be.MAC[:])
	copy(frame[6:12], b.mac[:])
	b.PerBackend[i]++
	return true
}

// errShortTransmit: the link took fewer frames than given.
var errShortTransmit = errors.New("maglev: the link did not take every frame (dropped)")

// Poll forwards one batch from link back out of link (a one-armed
// balancer; for two ports, receive on one and transmit on the other with
// Forward) and returns how many frames it forwarded.
func (b *Balancer) Poll(link stack.Link, now time.Duration) (int, error) {
	return b.Forward(link, link, now)
}

// Forward receives a batch on in, rewrites each IPv4 frame for its
// backend (destination MAC the backend's, source MAC ours) and transmits
// the batch on out. Other frames are dropped.
func (b *Balancer) Forward(in, out stack.Link, now time.Duration) (int, error) {
	frames, err := in.Receive()
	b.tx = b.tx[:0]
	for _, fr := range frames {
		if b.Steer(fr, now) {
			b.tx = append(b.tx, fr)
		}
	}
	if len(b.tx) == 0 {
		return 0, err
	}
	n, terr := out.Transmit(b.tx)
	b.Forwarded += uint64(n)
	if n < len(b.tx) {
		b.Dropped += uint64(len(b.tx) - n)
		if terr == nil {
			terr = errShortTransmit
		}
	}
	if err == nil {
		err = terr
	}
	return n, err
}
