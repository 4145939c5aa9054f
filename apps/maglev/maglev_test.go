package maglev

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func backends(n int) []Backend {
	bs := make([]Backend, n)
	for i := range bs {
		bs[i] = Backend{Name: fmt.Sprintf("backend-%d", i), MAC: [6]byte{2, 0, 0, 0, byte(i >> 8), byte(i)}}
	}
	return bs
}

func TestTableErrors(t *testing.T) {
	if _, err := NewTable(65536, backends(3)); err == nil {
		t.Error("a size that is not prime was accepted")
	}
	if _, err := NewTable(0, nil); err != ErrNoBackends {
		t.Errorf("no backends: %v", err)
	}
	if _, err := NewTable(7, backends(8)); err == nil {
		t.Error("more backends than entries accepted")
	}
	bs := backends(2)
	bs[1].Name = bs[0].Name
	if _, err := NewTable(0, bs); err == nil {
		t.Error("duplicate names accepted")
	}
}

// TestBalance: the paper's population gives every backend floor(M/N) or
// ceil(M/N) entries (each takes one entry per round), so max/avg is at
// most 1 + N/M.
func TestBalance(t *testing.T) {
	for _, n := range []int{3, 10, 100, 1000} {
		tb, err := NewTable(0, backends(n))
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := DefaultSize, 0
		for _, c := range tb.Counts() {
			lo, hi = min(lo, c), max(hi, c)
		}
		avg := float64(DefaultSize) / float64(n)
		if hi-lo > 1 {
			t.Errorf("N=%d: entries per backend from %d to %d", n, lo, hi)
		}
		t.Logf("N=%d: max/avg %.5f", n, float64(hi)/avg)
	}
}

func TestWeights(t *testing.T) {
	bs := backends(3)
	bs[0].Weight, bs[1].Weight, bs[2].Weight = 1, 2, 4
	tb, err := NewTable(0, bs)
	if err != nil {
		t.Fatal(err)
	}
	c := tb.Counts()
	for i, w := range []float64{1, 2, 4} {
		share := float64(c[i]) / DefaultSize
		if want := w / 7; share < want*0.99 || share > want*1.01 {
			t.Errorf("backend of weight %v has %.4f of the table, want %.4f", w, share, want)
		}
	}
}

// TestDisruption: removing one of N backends moves its own entries (1/N
// of the table, unavoidable) and only a few others: the paper reports
// Maglev is not perfectly minimal but close.
func TestDisruption(t *testing.T) {
	for _, n := range []int{10, 100, 1000} {
		bs := backends(n)
		tb, _ := NewTable(0, bs)
		before := make([]string, DefaultSize)
		for j, e := range tb.entry {
			before[j] = bs[e].Name
		}
		removed := bs[n/2].Name
		rest := append(append([]Backend(nil), bs[:n/2]...), bs[n/2+1:]...)
		tb.Populate(rest)
		moved, own := 0, 0
		for j, e := range tb.entry {
			switch {
			case before[j] == removed:
				own++
			case rest[e].Name != before[j]:
				moved++
			}
		}
		frac := float64(moved) / DefaultSize
		t.Logf("N=%d: removing one backend moves its %d entries and %.3f%% of the others' (%d)", n, own, 100*frac, moved)
		if frac > 2.0/float64(n)+0.005 {
			t.Errorf("N=%d: %.3f%% of the table moved besides the removed backend's", n, 100*frac)
		}
	}
}

func frame(src [4]byte, sport uint16) []byte {
	f := make([]byte, 60)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0], ip[9] = 0x45, 6
	binary.BigEndian.PutUint16(ip[2:], 40)
	copy(ip[12:], src[:])
	copy(ip[16:], []byte{10, 0, 0, 100})
	binary.BigEndian.PutUint16(ip[20:], sport)
	binary.BigEndian.PutUint16(ip[22:], 80)
	return f
}

// TestConnTracking: with the tracker, flows keep their backend when
// another backend is removed; without it, some move.
func TestConnTracking(t *testing.T) {
	bs := backends(20)
	tb, _ := NewTable(0, bs)
	lb := NewBalancer(tb, NewTracker(1<<16, time.Minute), [6]byte{2, 0, 0, 0, 0, 0xff})
	bare, _ := NewTable(0, bs)
	r := rand.New(rand.NewPCG(1, 2))
	flows := make([]Flow, 5000)
	first := make([]string, len(flows))
	for i := range flows {
		f, _ := ParseFlow(frame([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), 1}, uint16(r.Uint32())))
		flows[i] = f
		first[i] = bs[lb.Pick(f, time.Second)].Name
	}
	rest := append(append([]Backend(nil), bs[:7]...), bs[8:]...)
	lb.SetBackends(rest)
	bare.Populate(rest)
	kept, bareMoved := 0, 0
	for i, f := range flows {
		now := lb.table.backends[lb.Pick(f, 2*time.Second)].Name
		if first[i] == bs[7].Name {
			if now == bs[7].Name {
				t.Fatal("a flow stayed on the removed backend")
			}
			continue
		}
		if now == first[i] {
			kept++
		}
		if rest[bare.Lookup(f.Hash())].Name != first[i] {
			bareMoved++
		}
		if now != first[i] {
			t.Errorf("flow %d moved from %s to %s", i, first[i], now)
		}
	}
	t.Logf("kept %d flows; without tracking %d would have moved", kept, bareMoved)
	// Idle flows are forgotten after the timeout.
	lb.tracker.Hits, lb.tracker.Misses = 0, 0
	lb.Pick(flows[0], time.Hour)
	if lb.tracker.Misses != 1 {
		t.Fatal("an idle flow was not forgotten")
	}
}

// memLink is a Link in memory: a fixed batch received again and again
// (the frames are rewritten in place, which changes nothing the balancer
// reads), and a transmit counter.
type memLink struct {
	batch [][]byte
	sent  int
	last  [][]byte
}

func (l *memLink) HardwareAddr() [6]byte            { return [6]byte{2, 0, 0, 0, 0, 0xff} }
func (l *memLink) Receive() ([][]byte, error)       { return l.batch, nil }
func (l *memLink) Transmit(f [][]byte) (int, error) { l.sent += len(f); l.last = f; return len(f), nil }

func newMemLink(n int) *memLink {
	r := rand.New(rand.NewPCG(3, 4))
	l := &memLink{}
	for range n {
		l.batch = append(l.batch, frame([4]byte{byte(r.Uint32()), byte(r.Uint32()), 1, 1}, uint16(r.Uint32())))
	}
	arp := make([]byte, 60)
	binary.BigEndian.PutUint16(arp[12:], 0x0806)
	l.batch = append(l.batch, arp)
	return l
}

func TestForward(t *testing.T) {
	bs := backends(4)
	tb, _ := NewTable(0, bs)
	lb := NewBalancer(tb, NewTracker(1024, time.Minute), [6]byte{2, 0, 0, 0, 0, 0xff})
	l := newMemLink(31)
	n, err := lb.Poll(l, time.Second)
	if err != nil || n != 31 || lb.Dropped != 1 {
		t.Fatalf("forwarded %d, %v, dropped %d", n, err, lb.Dropped)
	}
	for _, f := range l.last {
		fl, _ := ParseFlow(f)
		want := bs[tb.Lookup(fl.Hash())].MAC
		if [6]byte(f[0:6]) != want || [6]byte(f[6:12]) != lb.mac {
			t.Fatalf("frame to % x from % x, want to % x", f[0:6], f[6:12], want)
		}
	}
}

// BenchmarkForward is the lookup-and-forward loop's packets per second
// over an in-memory link: batches of 32, conntrack on, 100 backends.
func BenchmarkForward(b *testing.B) {
	tb, _ := NewTable(0, backends(100))
	lb := NewBalancer(tb, NewTracker(1<<16, time.Minute), [6]byte{2, 0, 0, 0, 0, 0xff})
	l := newMemLink(32)
	l.batch = l.batch[:32]
	now := time.Second
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		lb.Poll(l, now)
	}
	b.ReportMetric(float64(b.N)*32/b.Elapsed().Seconds(), "pkt/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N*32), "ns/pkt")
}

func TestForwardAllocs(t *testing.T) {
	tb, _ := NewTable(0, backends(10))
	lb := NewBalancer(tb, NewTracker(1<<12, time.Minute), [6]byte{})
	l := newMemLink(32)
	if a := testing.AllocsPerRun(100, func() { lb.Poll(l, time.Second) }); a != 0 {
		t.Fatalf("%v allocations per batch", a)
	}
}

// TestFlowDisruption: flows, not table entries. With N backends (one of
// weight 2), each backend gets its weighted share of 20,000 random flows
// (within 5 standard deviations); after one backend is removed, with
// connection tracking exactly its flows move (about 1/N of all) and every
// other flow keeps its backend; the bare table (no tracking) moves a few
// more, as the paper reports.
func TestFlowDisruption(t *testing.T) {
	const nflows = 20000
	r := rand.New(rand.NewPCG(5, 6))
	flows := make([]Flow, nflows)
	for i := range flows {
		flows[i] = Flow{Src: [4]byte{10, byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}, Dst: [4]byte{10, 0, 0, 100},
			SPort: uint16(r.Uint32()), DPort: 443, Proto: 6}
	}
	for _, n := range []int{5, 10, 50} {
		bs := backends(n)
		bs[0].Weight = 2
		tb, _ := NewTable(0, bs)
		lb := NewBalancer(tb, NewTracker(1<<16, time.Minute), [6]byte{2})
		first := make([]int, nflows)
		per := make([]int, n)
		for i, f := range flows {
			first[i] = lb.Pick(f, time.Second)
			per[first[i]]++
		}
		for i, c := range per {
			w := tb.Backends()[i].Weight
			p := float64(w) / float64(n+1)
			if want, sd := p*nflows, math.Sqrt(nflows*p*(1-p)); math.Abs(float64(c)-want) > 5*sd {
				t.Errorf("N=%d: %s (weight %d) has %d flows, want %.0f ± %.0f", n, bs[i].Name, w, c, want, 5*sd)
			}
		}
		gone := n / 2
		rest := append(append([]Backend(nil), bs[:gone]...), bs[gone+1:]...)
		bare, _ := NewTable(0, rest)
		if err := lb.SetBackends(rest); err != nil {
			t.Fatal(err)
		}
		moved, bareMoved := 0, 0
		for i, f := range flows {
			now := rest[lb.Pick(f, 2*time.Second)].Name
			if first[i] == gone {
				continue
			}
			if now != bs[first[i]].Name {
				moved++
			}
			if rest[bare.Lookup(f.Hash())].Name != bs[first[i]].Name {
				bareMoved++
			}
		}
		t.Logf("N=%d: removing %s moves its %.2f%% of the flows; of the others, %d move with tracking, %.2f%% without",
			n, bs[gone].Name, 100*float64(per[gone])/nflows, moved, 100*float64(bareMoved)/nflows)
		if moved != 0 {
			t.Errorf("N=%d: %d flows of the remaining backends moved despite tracking", n, moved)
		}
		if frac := float64(bareMoved) / nflows; frac > 2.0/float64(n)+0.01 {
			t.Errorf("N=%d: without tracking %.2f%% of the other flows moved", n, 100*frac)
		}
	}
}

func TestParseBackends(t *testing.T) {
	bs, err := ParseBackends("a=02:00:00:00:00:01, b=0a:bc:de:f0:12:34/7")
	if err != nil || len(bs) != 2 || bs[0] != (Backend{Name: "a", Weight: 1, MAC: [6]byte{2, 0, 0, 0, 0, 1}}) ||
		bs[1] != (Backend{Name: "b", Weight: 7, MAC: [6]byte{0x0a, 0xbc, 0xde, 0xf0, 0x12, 0x34}}) {
		t.Fatalf("%+v, %v", bs, err)
	}
	for _, bad := range []string{"", "a", "=02:00:00:00:00:01", "a=", "a=02:00:00:00:00", "a=02:00:00:00:00:1", "a=02:00:00:00:00:zz",
		"a=03:00:00:00:00:01", "a=00:00:00:00:00:00", "a=02:00:00:00:00:01/0", "a=02:00:00:00:00:01/1001", "a=02:00:00:00:00:01/x",
		"a b=02:00:00:00:00:01", "a=02:00:00:00:00:01,a=02:00:00:00:00:02"} {
		if _, err := ParseBackends(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if s := FormatMAC([6]byte{0x0a, 0xbc, 0xde, 0xf0, 0x12, 0x34}); s != "0a:bc:de:f0:12:34" {
		t.Error(s)
	}
}

// FuzzSteer: any bytes a wire delivers are steered or dropped, never a
// panic; a steered frame changes in its MACs only, to a backend's.
func FuzzSteer(f *testing.F) {
	f.Add(frame([4]byte{1, 2, 3, 4}, 1000))
	f.Add([]byte{})
	f.Add(make([]byte, 33))
	short := frame([4]byte{1, 2, 3, 4}, 1)
	short[14] = 0x4f // IHL 60 bytes, longer than the frame
	f.Add(short)
	tb, _ := NewTable(0, backends(5))
	lb := NewBalancer(tb, NewTracker(64, time.Minute), [6]byte{2, 0, 0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, fr []byte) {
		orig := append([]byte(nil), fr...)
		dropped := lb.Dropped
		if !lb.Steer(fr, time.Second) {
			if lb.Dropped != dropped+1 || !bytes.Equal(fr, orig) {
				t.Fatal("a dropped frame was not counted, or was changed")
			}
			return
		}
		if !bytes.Equal(fr[12:], orig[12:]) || [6]byte(fr[6:12]) != lb.mac {
			t.Fatal("a steered frame changed beyond its MACs")
		}
		if slices.IndexFunc(tb.Backends(), func(b Backend) bool { return b.MAC == [6]byte(fr[0:6]) }) < 0 {
			t.Fatalf("steered to % x, not a backend", fr[0:6])
		}
	})
}
