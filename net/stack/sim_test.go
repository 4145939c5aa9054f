package stack

import (
	"math/rand/v2"
	"testing"
	"time"
)

// A simNet connects two links in memory, with deterministic impairments:
// loss, duplication, reordering and corruption, drawn from a seeded
// generator. Buffers are pooled, so a steady transfer allocates nothing.
type simNet struct {
	rng                           *rand.Rand
	loss, dup, reorder, corrupt   float64
	down                          bool // drop everything
	pool                          [][]byte
	a, b                          *simLink
	delivered, dropped, corrupted int
}

type simLink struct {
	net     *simNet
	mac     [6]byte
	in, rx  [][]byte
	peer    *simLink
	filter  func(f []byte) bool // false: drop this frame (tests)
	txCount int
}

func newSimNet(seed uint64) *simNet {
	n := &simNet{rng: rand.New(rand.NewPCG(seed, seed^0x5555))}
	n.a = &simLink{net: n, mac: [6]byte{2, 0, 0, 0, 0, 1}}
	n.b = &simLink{net: n, mac: [6]byte{2, 0, 0, 0, 0, 2}}
	n.a.peer, n.b.peer = n.b, n.a
	return n
}

func (l *simLink) HardwareAddr() [6]byte { return l.mac }

func (l *simLink) Receive() ([][]byte, error) {
	l.net.pool = append(l.net.pool, l.rx...)
	l.rx, l.in = l.in, l.rx[:0]
	return l.rx, nil
}

func (n *simNet) buf() []byte {
	if k := len(n.pool); k > 0 {
		b := n.pool[k-1]
		n.pool = n.pool[:k-1]
		return b[:0]
	}
	return make([]byte, 0, 2048)
}

func (l *simLink) Transmit(frames [][]byte) (int, error) {
	n := l.net
	for _, f := range frames {
		l.txCount++
		if n.down || (l.filter != nil && !l.filter(f)) || n.loss > 0 && n.rng.Float64() < n.loss {
			n.dropped++
			continue
		}
		copies := 1
		if n.dup > 0 && n.rng.Float64() < n.dup {
			copies = 2
		}
		for range copies {
			b := append(n.buf(), f...)
			if n.corrupt > 0 && n.rng.Float64() < n.corrupt {
				b[14+n.rng.IntN(len(b)-14)] ^= byte(1 + n.rng.IntN(255))
				n.corrupted++
			}
			p := l.peer
			p.in = append(p.in, b)
			if k := len(p.in); n.reorder > 0 && k > 1 && n.rng.Float64() < n.reorder {
				j := k - 2 - n.rng.IntN(min(k-1, 4))
				p.in[k-1], p.in[j] = p.in[j], p.in[k-1]
			}
			n.delivered++
		}
	}
	return len(frames), nil
}

var (
	addrA = [4]byte{10, 0, 0, 1}
	addrB = [4]byte{10, 0, 0, 2}
)

// pair is two stacks on a simNet and a virtual clock.
type pair struct {
	t    testing.TB
	net  *simNet
	a, b *Stack
	now  time.Duration
	step time.Duration // clock advance per poll round (half the RTT)
}

func newPair(t testing.TB, seed uint64, cfg Config) *pair {
	t.Helper()
	n := newSimNet(seed)
	ca, cb := cfg, cfg
	ca.Addr, cb.Addr = addrA, addrB
	ca.Seed, cb.Seed = seed*2+1, seed*2+2
	a, err := New(n.a, ca)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(n.b, cb)
	if err != nil {
		t.Fatal(err)
	}
	return &pair{t: t, net: n, a: a, b: b, now: time.Second, step: 100 * time.Microsecond}
}

// round polls both stacks once and advances the clock; when nothing
// happened and nothing is in flight it jumps to the next timer.
func (p *pair) round() {
	wa, ea := p.a.Poll(p.now)
	wb, eb := p.b.Poll(p.now)
	if ea != nil || eb != nil {
		p.t.Fatalf("poll: %v %v", ea, eb)
	}
	if !wa && !wb && len(p.net.a.in) == 0 && len(p.net.b.in) == 0 {
		next := time.Duration(0)
		for _, s := range []*Stack{p.a, p.b} {
			if at, ok := s.NextTimer(); ok && (next == 0 || at < next) {
				next = at
			}
		}
		if next > p.now {
			p.now = next
			return
		}
	}
	p.now += p.step
}

// until runs rounds until cond holds, failing after limit of virtual time.
func (p *pair) until(what string, limit time.Duration, cond func() bool) {
	p.t.Helper()
	end := p.now + limit
	for !cond() {
		if p.now > end {
			p.t.Fatalf("%s: not after %v of virtual time (a: %+v, b: %+v)", what, limit, p.a.Stats(), p.b.Stats())
		}
		p.round()
	}
}

// connect opens a connection from a to b's port and returns both ends.
func (p *pair) connect(port uint16) (client, server Conn) {
	p.t.Helper()
	l, err := p.b.Listen(port, 16)
	if err != nil {
		p.t.Fatal(err)
	}
	client, err = p.a.Dial(addrB, port)
	if err != nil {
		p.t.Fatal(err)
	}
	p.until("accept", time.Minute, func() bool {
		c, err := l.Accept()
		if err == nil {
			server = c
			return true
		}
		return false
	})
	p.until("client established", time.Minute, func() bool { return client.State() == StateEstablished })
	return client, server
}
