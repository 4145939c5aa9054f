package ixgbe

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rlgo/redleaf/drivers/ixgbe/model"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/rref"
)

// quick are bring-up waits short enough for the tests of timeouts.
var quick = Hooks{Sleep: func(d time.Duration) { time.Sleep(min(d, time.Millisecond)) }}

// open brings up a driver on a fresh model.
func open(tb testing.TB, mcfg model.Config, cfg Config) (*model.Model, *Device) {
	tb.Helper()
	m := model.New(mcfg)
	d, err := Open(m, cfg, quick)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if errs := m.Errors(); len(errs) > 0 {
			tb.Errorf("the model saw the driver break the datasheet's rules:\n%v", errs)
		}
	})
	return m, d
}

// domainNIC runs the driver as a domain over m and connects the kernel to
// it through a proxy.
func domainNIC(tb testing.TB, m *model.Model, cfg Config, opts ...domain.CreateOption) (*domain.Manager, *domain.Domain, idl.Net) {
	tb.Helper()
	mgr := domain.NewManager()
	tb.Cleanup(mgr.Close)
	opts = append([]domain.CreateOption{domain.GrantDevice(GrantPCI, hw.PCIDevice(m)), domain.GrantDevice(GrantConfig, cfg)}, opts...)
	d, err := mgr.Create(Kind, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	nic, err := domain.Connect[idl.Net](mgr.Kernel(), d)
	if err != nil {
		tb.Fatal(err)
	}
	return mgr, d, nic
}

// ownMAC is the model's default MAC.
var ownMAC = [6]byte{0x00, 0x1b, 0x21, 0x0a, 0x0b, 0x0c}

// frame makes a frame to the model's MAC of length n carrying seq, the rest
// random from rng (or a pattern if rng is nil).
func frame(seq uint32, n int, rng *rand.Rand) []byte {
	f := make([]byte, n)
	copy(f, ownMAC[:])
	copy(f[6:], []byte{0x02, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(f[12:], 0x88b5)
	binary.BigEndian.PutUint32(f[14:], seq)
	for i := 18; i < n; i++ {
		if rng != nil {
			f[i] = byte(rng.Uint32())
		} else {
			f[i] = byte(int(seq) + i)
		}
	}
	return f
}

func seqOf(f []byte) uint32 { return binary.BigEndian.Uint32(f[14:]) }

// buffers is a deque of n free packet buffers on heap.
func buffers(heap *rref.Account, n int) rref.Deque[idl.Packet] {
	q := rref.NewDeque[idl.Packet](heap, n)
	for range n {
		q.PushBack(rref.New(heap, idl.Packet{}))
	}
	return q
}

// drain pops every buffer holding a packet from q, appends a copy of its
// frame to out and frees the buffer (Len 0); q keeps its buffers.
func drain(q rref.Deque[idl.Packet], out [][]byte) [][]byte {
	for range q.Len() {
		r, _ := q.PopFront()
		if p := r.Get(); p.Len > 0 {
			out = append(out, append([]byte(nil), p.Data[:p.Len]...))
			p.Len = 0
		}
		q.PushBack(r)
	}
	return out
}

// fill puts frames into the free buffers of q, front to back, and returns
// the frames it did not place.
func fill(q rref.Deque[idl.Packet], frames [][]byte) [][]byte {
	for range q.Len() {
		r, _ := q.PopFront()
		if p := r.Get(); p.Len == 0 && len(frames) > 0 {
			p.Len = uint16(copy(p.Data[:], frames[0]))
			frames = frames[1:]
		}
		q.PushBack(r)
	}
	return frames
}

// testHeap is an account for tests that call a Device directly.
func testHeap(tb testing.TB) *rref.Account {
	mgr := domain.NewManager()
	tb.Cleanup(mgr.Close)
	return mgr.Kernel().Heap()
}
