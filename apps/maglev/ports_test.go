package maglev_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/rlgo/redleaf/apps/maglev"
	"github.com/rlgo/redleaf/drivers/ixgbe"
	"github.com/rlgo/redleaf/drivers/ixgbe/model"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// lbMAC is the balancer's own address in these tests.
var lbMAC = [6]byte{0x02, 0x1b, 0x21, 0x0a, 0x0b, 0x01}

func testBackends(n int) []maglev.Backend {
	bs := make([]maglev.Backend, n)
	for i := range bs {
		bs[i] = maglev.Backend{Name: fmt.Sprintf("be%d", i), MAC: [6]byte{0x02, 0xbe, 0, 0, byte(i >> 8), byte(i)}}
	}
	return bs
}

// clientFrame is a 60-byte TCP segment from client c (address and port
// derived from it) to the service 10.0.0.100:80, sent to dst.
func clientFrame(dst [6]byte, c uint32) []byte {
	f := make([]byte, 60)
	copy(f, dst[:])
	copy(f[6:], []byte{0x02, 0xc1, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(ip[2:], 40)
	stampClient(f, c)
	copy(ip[16:], []byte{10, 0, 0, 100})
	binary.BigEndian.PutUint16(ip[22:], 80)
	ip[33] = 0x02 // SYN
	return f
}

// stampClient writes client c's address and port into frame f.
func stampClient(f []byte, c uint32) {
	ip := f[14:]
	ip[12], ip[13], ip[14], ip[15] = 172, 16, byte(c>>8), byte(c)
	binary.BigEndian.PutUint16(ip[20:], uint16(1024+c*7))
}

// twoPorts is the 82599 model twice, each with an ixgbe driver, called
// directly (no domains) or as domains behind shadows from the kernel's
// domain (domains).
type twoPorts struct {
	m       [2]*model.Model
	net     [2]idl.Net
	heap    *rref.Account
	domains bool
}

func newTwoPorts(tb testing.TB, domains bool) *twoPorts {
	tb.Helper()
	mgr := domain.NewManager()
	tb.Cleanup(mgr.Close)
	r := &twoPorts{heap: mgr.Kernel().Heap(), domains: domains}
	cfg := ixgbe.Config{RingSize: 512}
	for i := range r.m {
		m := model.New(model.Config{Queues: 1, RAM: 4 << 20, MAC: [6]byte{0x02, 0x1b, 0x21, 0x0a, 0x0b, byte(i)}})
		r.m[i] = m
		if !domains {
			d, err := ixgbe.Open(m, cfg, ixgbe.Hooks{})
			if err != nil {
				tb.Fatal(err)
			}
			r.net[i] = ixgbe.NewNIC(nil, d)
			continue
		}
		d, err := mgr.Create(ixgbe.Kind, domain.GrantDevice(ixgbe.GrantPCI, hw.PCIDevice(m)), domain.GrantDevice(ixgbe.GrantConfig, cfg))
		if err != nil {
			tb.Fatal(err)
		}
		g, err := shadow.New(mgr, d, shadow.Policy{})
		if err != nil {
			tb.Fatal(err)
		}
		if r.net[i], err = domain.Connect[idl.Net](mgr.Kernel(), g); err != nil {
			tb.Fatal(err)
		}
	}
	return r
}

// TestPortsOnModel: client frames of 300 flows arrive on port 0 of the
// model; on port 1's wire each comes out once, unchanged but for its
// MACs, to the backend the table gives its flow. Then one backend of 8 is
// removed: its flows move, every other flow keeps its backend.
func TestPortsOnModel(t *testing.T) {
	for _, domains := range []bool{false, true} {
		t.Run(fmt.Sprintf("domains=%v", domains), func(t *testing.T) {
			r := newTwoPorts(t, domains)
			bs := testBackends(8)
			bs[3].Weight = 3
			tb, err := maglev.NewTable(0, bs)
			if err != nil {
				t.Fatal(err)
			}
			lb := maglev.NewBalancer(tb, maglev.NewTracker(4096, time.Minute), lbMAC)
			p := maglev.NewPorts(lb, r.heap, r.net[0], r.net[1], 32)
			defer p.Close()

			const flows = 300
			send := func(round int) map[uint32][6]byte {
				t.Helper()
				sent0 := r.m[1].Counters().Sent
				for c := range uint32(flows) {
					if !r.m[0].Inject(0, clientFrame([6]byte{0x02, 0x1b, 0x21, 0x0a, 0x0b, 0}, c)) {
						t.Fatalf("round %d: the model missed client %d's frame", round, c)
					}
				}
				arp := make([]byte, 60)
				copy(arp, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
				binary.BigEndian.PutUint16(arp[12:], 0x0806)
				r.m[0].Inject(0, arp) // not IPv4: dropped
				for range 1000 {
					if r.m[1].Counters().Sent-sent0 >= flows {
						break
					}
					if _, err := p.Step(time.Duration(round) * time.Second); err != nil {
						t.Fatal(err)
					}
				}
				got := map[uint32][6]byte{}
				for _, f := range r.m[1].Captured(0) {
					fl, ok := maglev.ParseFlow(f)
					if !ok {
						t.Fatalf("round %d: a frame that is not IPv4 came out: % x", round, f)
					}
					c := uint32(fl.Src[2])<<8 | uint32(fl.Src[3])
					want := clientFrame([6]byte(f[0:6]), c)
					copy(want[6:12], lbMAC[:])
					if !bytes.Equal(f, want) {
						t.Fatalf("round %d: client %d's frame came out as\n% x, want\n% x", round, c, f, want)
					}
					if _, dup := got[c]; dup {
						t.Fatalf("round %d: client %d's frame came out twice", round, c)
					}
					got[c] = [6]byte(f[0:6])
				}
				if len(got) != flows {
					t.Fatalf("round %d: %d of %d frames came out", round, len(got), flows)
				}
				return got
			}

			first := send(1)
			for c, mac := range first {
				fl, _ := maglev.ParseFlow(clientFrame([6]byte{}, c))
				if want := bs[tb.Lookup(fl.Hash())].MAC; mac != want {
					t.Fatalf("client %d went to % x, the table says % x", c, mac, want)
				}
			}
			if lb.Dropped != 1 || p.Received != flows+1 || p.Sent != flows {
				t.Errorf("dropped %d, received %d, sent %d", lb.Dropped, p.Received, p.Sent)
			}

			// Remove be5, with the table filled off the forwarding path.
			gone := bs[5]
			rest := append(append([]maglev.Backend(nil), bs[:5]...), bs[6:]...)
			nt, err := maglev.NewTable(0, rest)
			if err != nil {
				t.Fatal(err)
			}
			lb.SetTable(nt)
			second := send(2)
			moved, onGone := 0, 0
			for c, mac := range second {
				switch {
				case first[c] == gone.MAC:
					onGone++
					if mac == gone.MAC {
						t.Errorf("client %d still goes to the removed backend", c)
					}
				case mac != first[c]:
					moved++
				}
			}
			t.Logf("%d flows were on the removed backend and moved; %d others moved", onGone, moved)
			if moved != 0 || onGone == 0 {
				t.Errorf("%d flows of remaining backends moved (want 0), %d were on the removed one", moved, onGone)
			}
			counts := lb.Counts()
			var total uint64
			for _, n := range counts {
				total += n
			}
			if total != 2*flows || counts[gone.Name] != uint64(onGone) {
				t.Errorf("counts %v: total %d, want %d; %s %d, want %d", counts, total, 2*flows, gone.Name, counts[gone.Name], onGone)
			}
		})
	}
}

// flowSource stands in for the clients: the model's generator repeats
// one frame, so after each receive it stamps a client (address and port,
// cycling over flows clients) into every packet, as many flows would
// arrive on a real wire. Its cost is the same with and without domains.
type flowSource struct {
	idl.Net
	next, flows uint32
}

func (s *flowSource) RxBatch(q uint16, d rref.Deque[idl.Packet]) (rref.Deque[idl.Packet], int, error) {
	d, n, err := s.Net.RxBatch(q, d)
	if err == nil {
		for i := range d.Len() {
			if pk := d.At(i); pk.Len > 0 {
				stampClient(pk.Data[:pk.Len], s.next)
				if s.next++; s.next == s.flows {
					s.next = 0
				}
			}
		}
	}
	return d, n, err
}

// BenchmarkPorts is Maglev between two ports of the 82599 model: port 0's
// model generates 60-byte TCP frames of 4096 clients into every free RX
// descriptor, the balancer (100 backends, conntrack on, table of 65537)
// steers them and port 1's model takes them off the TX ring, both models
// synchronous (they work on the driver's tail writes). direct calls the
// drivers as plain Go values in this goroutine; domains calls the two
// ixgbe domains, each behind its shadow, through their proxies from
// another domain: what the maglev program does. One op is one batch.
func BenchmarkPorts(b *testing.B) {
	for _, how := range []string{"direct", "domains"} {
		for _, batch := range []int{32, 256} {
			b.Run(fmt.Sprintf("%s/batch%d", how, batch), func(b *testing.B) {
				r := newTwoPorts(b, how == "domains")
				r.m[1].Capture(false)
				r.m[0].Generate(0, clientFrame([6]byte{0x02, 0x1b, 0x21, 0x0a, 0x0b, 0}, 0))
				tb, err := maglev.NewTable(0, testBackends(100))
				if err != nil {
					b.Fatal(err)
				}
				lb := maglev.NewBalancer(tb, maglev.NewTracker(1<<16, time.Minute), lbMAC)
				p := maglev.NewPorts(lb, r.heap, &flowSource{Net: r.net[0], flows: 4096}, r.net[1], batch)
				defer p.Close()
				now := time.Second
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if k, err := p.Step(now); err != nil || k != batch {
						b.Fatalf("sent %d of %d: %v", k, batch, err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(p.Sent)/b.Elapsed().Seconds()/1e6, "Mpps")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(p.Sent), "ns/pkt")
				if c := r.m[1].Counters(); c.Sent != p.Sent || lb.Dropped != 0 {
					b.Fatalf("port 1's model sent %d, the balancer %d (dropped %d)", c.Sent, p.Sent, lb.Dropped)
				}
			})
		}
	}
}

// When port 1's TX ring is full, steered packets wait in the batch and go
// out later, each once and steered once; receiving stops while every
// buffer of the batch waits.
func TestPortsTxFull(t *testing.T) {
	mgr := domain.NewManager()
	t.Cleanup(mgr.Close)
	var nets [2]idl.Net
	var ms [2]*model.Model
	for i := range ms {
		// Port 1's model works only when the test steps it: its TX ring
		// fills up.
		ms[i] = model.New(model.Config{Queues: 1, RAM: 4 << 20, Async: i == 1, MAC: [6]byte{0x02, 0x1b, 0x21, 0x0a, 0x0b, byte(i)}})
		d, err := ixgbe.Open(ms[i], ixgbe.Config{RingSize: 64}, ixgbe.Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		nets[i] = ixgbe.NewNIC(nil, d)
	}
	tb, _ := maglev.NewTable(0, testBackends(4))
	lb := maglev.NewBalancer(tb, maglev.NewTracker(1024, time.Minute), lbMAC)
	p := maglev.NewPorts(lb, mgr.Kernel().Heap(), nets[0], nets[1], 16)
	defer p.Close()
	const n = 200
	for c := range uint32(n) {
		if !ms[0].Inject(0, clientFrame([6]byte{0x02, 0x1b, 0x21, 0x0a, 0x0b, 0}, c)) {
			t.Fatalf("client %d's frame missed", c)
		}
	}
	for range 20 {
		if _, err := p.Step(time.Second); err != nil {
			t.Fatal(err)
		}
	}
	// 63 descriptors of 64 taken, then 16 packets wait and receiving stops.
	if p.Sent != 63 || p.Held() != 16 || p.Received != 63+16 {
		t.Fatalf("with port 1's ring full: sent %d, waiting %d, received %d", p.Sent, p.Held(), p.Received)
	}
	seen := map[uint32]int{}
	for range 1000 {
		ms[1].Step() // the wire takes what the ring holds
		for _, f := range ms[1].Captured(0) {
			fl, _ := maglev.ParseFlow(f)
			seen[uint32(fl.Src[2])<<8|uint32(fl.Src[3])]++
		}
		if len(seen) == n {
			break
		}
		if _, err := p.Step(time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for c := range uint32(n) {
		if seen[c] != 1 {
			t.Errorf("client %d's frame went out %d times", c, seen[c])
		}
	}
	var steered uint64
	for _, k := range lb.PerBackend {
		steered += k
	}
	if p.Sent != n || p.Received != n || steered != n || p.Held() != 0 {
		t.Errorf("sent %d, received %d, steered %d, waiting %d; want %d, %d, %d, 0", p.Sent, p.Received, steered, p.Held(), n, n, n)
	}
}

// BenchmarkPortsRatio is BenchmarkPorts' two cases interleaved, batch by
// batch, in one loop (one op is one batch of each, the first of the two
// alternating), so that the load of a shared machine weighs on both alike: direct-Mpps and domains-Mpps are
// each case's rate over its own time, ratio is domains over direct.
func BenchmarkPortsRatio(b *testing.B) {
	for _, batch := range []int{1, 32, 256} {
		b.Run(fmt.Sprintf("batch%d", batch), func(b *testing.B) {
			var ps [2]*maglev.Ports
			var ms [2]*model.Model
			for i, domains := range []bool{false, true} {
				r := newTwoPorts(b, domains)
				r.m[1].Capture(false)
				r.m[0].Generate(0, clientFrame([6]byte{0x02, 0x1b, 0x21, 0x0a, 0x0b, 0}, 0))
				tb, err := maglev.NewTable(0, testBackends(100))
				if err != nil {
					b.Fatal(err)
				}
				lb := maglev.NewBalancer(tb, maglev.NewTracker(1<<16, time.Minute), lbMAC)
				ps[i] = maglev.NewPorts(lb, r.heap, &flowSource{Net: r.net[0], flows: 4096}, r.net[1], batch)
				defer ps[i].Close()
				ms[i] = r.m[1]
			}
			var took [2]time.Duration
			now := time.Second
			b.ReportAllocs()
			b.ResetTimer()
			for n := 0; b.Loop(); n++ {
				for j := range ps {
					i := (j + n) & 1 // which goes first alternates
					p := ps[i]
					t0 := time.Now()
					if k, err := p.Step(now); err != nil || k != batch {
						b.Fatalf("sent %d of %d: %v", k, batch, err)
					}
					took[i] += time.Since(t0)
				}
			}
			b.StopTimer()
			var mpps [2]float64
			for i, p := range ps {
				mpps[i] = float64(p.Sent) / took[i].Seconds() / 1e6
				if c := ms[i].Counters(); c.Sent != p.Sent {
					b.Fatalf("port 1's model sent %d, the balancer %d", c.Sent, p.Sent)
				}
			}
			b.ReportMetric(mpps[0], "direct-Mpps")
			b.ReportMetric(mpps[1], "domains-Mpps")
			b.ReportMetric(mpps[1]/mpps[0], "ratio")
		})
	}
}
