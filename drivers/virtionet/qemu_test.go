package virtionet

import (
	"bytes"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/internal/qtest"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/rref"
)

// A rig is QEMU's virtio-net-pci under qtest, its network a datagram
// socket pair: every frame the device transmits arrives on the test's
// socket (wire), every datagram the test sends to the device's socket
// (peer) is a frame the device receives.
type rig struct {
	m    *qtest.Machine
	f    *qtest.PCIFunc
	wire *net.UnixConn
	peer *net.UnixAddr
}

var testMAC = [6]byte{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}

func newRig(t *testing.T, modern bool) *rig {
	t.Helper()
	dir := t.TempDir()
	r := &rig{peer: &net.UnixAddr{Name: filepath.Join(dir, "qemu.sock"), Net: "unixgram"}}
	mine := filepath.Join(dir, "test.sock")
	var err error
	if r.wire, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: mine, Net: "unixgram"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.wire.Close() })
	dev, id := "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56", uint16(DeviceTransitional)
	if modern {
		dev, id = dev+",disable-legacy=on", DeviceModern
	}
	r.m = qtest.Start(t, qtest.Options{Args: []string{
		"-netdev", "dgram,id=n0,local.type=unix,local.path=" + r.peer.Name + ",remote.type=unix,remote.path=" + mine,
		"-device", dev,
	}})
	if r.f, err = r.m.FindPCI(VendorVirtio, id); err != nil {
		t.Fatal(err)
	}
	if _, err := r.f.MapBAR(4, 0xe0000000); err != nil {
		t.Fatal(err)
	}
	r.f.SetCommand(hw.CmdMemory|hw.CmdBusMaster|hw.CmdINTxDisable, 0)
	return r
}

func (r *rig) open(t *testing.T, cfg Config) *Device {
	t.Helper()
	d, err := Open(r.f, cfg, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// inject sends frame to the device.
func (r *rig) inject(t *testing.T, frame []byte) {
	t.Helper()
	if _, err := r.wire.WriteToUnix(frame, r.peer); err != nil {
		t.Fatal(err)
	}
}

// capture reads the next frame the device sent.
func (r *rig) capture(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 4096)
	r.wire.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := r.wire.ReadFromUnix(b)
	if err != nil {
		t.Fatalf("capturing a frame: %v", err)
	}
	return b[:n]
}

// frame is a test frame of n bytes to dst, numbered seq.
func frame(dst [6]byte, seq, n int) []byte {
	f := make([]byte, n)
	copy(f, dst[:])
	copy(f[6:], []byte{0x02, 0, 0, 0, 0, 1})
	f[12], f[13] = 0x88, 0xb5 // local experimental EtherType
	for i := 14; i < n; i++ {
		f[i] = byte(seq + i*7)
	}
	f[14], f[15] = byte(seq), byte(seq>>8)
	return f
}

// packets makes a deque of n free packets.
func packets(heap *rref.Account, n int) rref.Deque[idl.Packet] {
	q := rref.NewDeque[idl.Packet](heap, n)
	for range n {
		q.PushBack(rref.New(heap, idl.Packet{}))
	}
	return q
}

// receive polls d until want frames arrived (or 10 s passed) and returns
// them.
func receive(t *testing.T, d idl.Net, heap *rref.Account, want int) [][]byte {
	t.Helper()
	bufs := packets(heap, 32)
	defer func() { bufs.Drop() }()
	var got [][]byte
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < want && time.Now().Before(deadline) {
		var n int
		var err error
		if bufs, n, err = d.RxBatch(0, bufs); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			time.Sleep(time.Millisecond)
			continue
		}
		for range bufs.Len() {
			r, _ := bufs.PopFront()
			if p := r.Get(); p.Len > 0 {
				got = append(got, append([]byte(nil), p.Data[:p.Len]...))
				p.Len = 0
			}
			bufs.PushBack(r)
		}
	}
	if len(got) != want {
		t.Fatalf("received %d frames in 10 s, want %d", len(got), want)
	}
	return got
}

func TestBringUp(t *testing.T) {
	for _, modern := range []bool{false, true} {
		t.Run(map[bool]string{false: "transitional", true: "modern"}[modern], func(t *testing.T) {
			r := newRig(t, modern)
			start := time.Now()
			d := r.open(t, Config{})
			t.Logf("bring-up in %v", time.Since(start))
			if d.MAC() != testMAC {
				t.Errorf("MAC %x, want %x", d.MAC(), testMAC)
			}
			if f := d.Features(); f&(featVersion1|featMAC|featStatus) != featVersion1|featMAC|featStatus {
				t.Errorf("features %#x", f)
			}
			if d.QueueSize() != 256 {
				t.Errorf("queue size %d", d.QueueSize())
			}
			l, err := d.LinkStatus()
			if err != nil || !l.Up || l.MAC != testMAC {
				t.Errorf("link %+v %v", l, err)
			}
			// A second bring-up, with the first's queues running, resets
			// the device and starts over.
			d2 := r.open(t, Config{QueueSize: 8})
			if d2.QueueSize() != 8 {
				t.Errorf("queue size %d, want 8", d2.QueueSize())
			}
			heap := testHeap(t)
			r.inject(t, frame(testMAC, 1, 60))
			if got := receive(t, d2, heap, 1); !bytes.Equal(got[0], frame(testMAC, 1, 60)) {
				t.Errorf("frame after a second bring-up: %x", got[0])
			}
		})
	}
}

// TestReceive injects frames of every size, more than the ring holds, to
// this device, to another one and to broadcast; they arrive in order,
// exact, and only those for the device unless it is promiscuous.
func TestReceive(t *testing.T) {
	r := newRig(t, true)
	d := r.open(t, Config{QueueSize: 8})
	heap := testHeap(t)
	other := [6]byte{0x52, 0x54, 0, 0, 0, 9}
	bcast := [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	var want [][]byte
	seq := 0
	sizes := []int{60, 64, 100, 512, 1000, 1514}
	for round := range 5 { // 5 rounds of 6 frames through a ring of 8
		for _, n := range sizes {
			seq++
			dst := testMAC
			switch seq % 5 {
			case 1:
				dst = bcast
			case 2:
				dst = other
			}
			f := frame(dst, seq, n)
			r.inject(t, f)
			if dst != other {
				want = append(want, f)
			}
		}
		got := receive(t, d, heap, len(want))
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("round %d: frame %d: got %d bytes %x.., want %d bytes %x..", round, i, len(got[i]), got[i][:16], len(want[i]), want[i][:16])
			}
		}
		want = want[:0]
	}
	st, _ := d.Stats()
	if st.RxPackets != 24 || st.RxErrors != 0 {
		t.Errorf("stats %+v, want 24 received", st)
	}
	// Promiscuous: the other host's frames too.
	d.SetPromisc(true)
	f := frame(other, 999, 80)
	r.inject(t, f)
	if got := receive(t, d, heap, 1); !bytes.Equal(got[0], f) {
		t.Errorf("promiscuous: %x", got[0])
	}
}

// TestTransmit sends batches larger than the ring: each call queues what
// fits, the rest keep their frames, and every frame leaves exact and in
// order.
func TestTransmit(t *testing.T) {
	r := newRig(t, true)
	d := r.open(t, Config{QueueSize: 8})
	heap := testHeap(t)
	const total = 40
	pkts := rref.NewDeque[idl.Packet](heap, total)
	var want [][]byte
	for i := range total {
		f := frame([6]byte{2, 0, 0, 0, 0, 2}, i, 60+i*37)
		want = append(want, f)
		p := rref.New(heap, idl.Packet{Len: uint16(len(f))})
		copy(p.Get().Data[:], f)
		pkts.PushBack(p)
	}
	// The wire is read as the frames come: a datagram socket's buffer is
	// small, and QEMU holds transmission while its peer's is full.
	frames := make(chan []byte, total+1)
	go func() {
		for range total + 1 {
			b := make([]byte, 4096)
			r.wire.SetReadDeadline(time.Now().Add(20 * time.Second))
			n, _, err := r.wire.ReadFromUnix(b)
			if err != nil {
				close(frames)
				return
			}
			frames <- b[:n]
		}
	}()
	queued := 0
	first := true
	deadline := time.Now().Add(10 * time.Second)
	for queued < total && time.Now().Before(deadline) {
		var n int
		var err error
		if pkts, n, err = d.TxBatch(0, pkts); err != nil {
			t.Fatal(err)
		}
		if first && n != 8 {
			t.Errorf("first batch queued %d, want the ring's 8", n)
		}
		first = false
		queued += n
		time.Sleep(time.Millisecond)
	}
	if queued != total {
		t.Fatalf("queued %d of %d", queued, total)
	}
	for range pkts.Len() {
		p, _ := pkts.PopFront()
		if p.Get().Len != 0 {
			t.Error("a queued packet kept its length")
		}
		p.Drop()
	}
	pkts.Drop()
	for i := range total {
		if got := <-frames; !bytes.Equal(got, want[i]) {
			t.Fatalf("frame %d: %d bytes %x.., want %d bytes %x..", i, len(got), got[:16], len(want[i]), want[i][:16])
		}
	}
	deadline = time.Now().Add(5 * time.Second)
	var st idl.NetStats
	for time.Now().Before(deadline) {
		if st, _ = d.Stats(); st.TxPackets == total {
			break
		}
		time.Sleep(time.Millisecond)
	}
	var bytesWant uint64
	for _, f := range want {
		bytesWant += uint64(len(f))
	}
	if st.TxPackets != total || st.TxBytes != bytesWant || d.tx.inFlight() != 0 {
		t.Errorf("stats %+v, %d in flight; want %d packets, %d bytes", st, d.tx.inFlight(), total, bytesWant)
	}

	// Too long: not sent, an error, the rest sent.
	pkts = rref.NewDeque[idl.Packet](heap, 2)
	long := rref.New(heap, idl.Packet{Len: idl.MaxFrame + 1})
	ok := rref.New(heap, idl.Packet{Len: 60})
	copy(ok.Get().Data[:], frame([6]byte{2}, 7, 60))
	pkts.PushBack(long)
	pkts.PushBack(ok)
	pkts, n, err := d.TxBatch(0, pkts)
	if !errors.Is(err, ErrFrameTooLong) || n != 1 {
		t.Errorf("too long: %d sent, %v", n, err)
	}
	if p, _ := pkts.PopFront(); p.Get().Len != idl.MaxFrame+1 {
		t.Error("the long frame lost its length")
	}
	if got := <-frames; !bytes.Equal(got, frame([6]byte{2}, 7, 60)) {
		t.Errorf("frame after the long one: %x", got)
	}
	if _, _, err := d.TxBatch(1, pkts); !errors.Is(err, ErrQueue) {
		t.Errorf("queue 1: %v", err)
	}
}

func TestBusMasterOff(t *testing.T) {
	r := newRig(t, true)
	r.f.SetCommand(0, hw.CmdBusMaster)
	if _, err := Open(r.f, Config{}, Hooks{}); !errors.Is(err, hw.ErrNoBusMaster) {
		t.Errorf("bring-up with bus mastering off: %v", err)
	}
}

// testHeap is the kernel's account of a fresh domain manager.
func testHeap(t testing.TB) *rref.Account {
	m := domain.NewManager()
	t.Cleanup(m.Close)
	return m.Kernel().Heap()
}

// roundTrip injects a frame of size in (sequence seq) and checks that nic
// receives it, then sends one of size out and checks that it reaches the
// wire.
func (r *rig) roundTrip(t *testing.T, nic idl.Net, heap *rref.Account, seq, in, out int) {
	t.Helper()
	f := frame(testMAC, seq, in)
	r.inject(t, f)
	if got := receive(t, nic, heap, 1); !bytes.Equal(got[0], f) {
		t.Fatalf("received %x", got[0])
	}
	f = frame([6]byte{2, 0, 0, 0, 0, 1}, seq, out)
	pkts := rref.NewDeque[idl.Packet](heap, 1)
	p := rref.New(heap, idl.Packet{Len: uint16(len(f))})
	copy(p.Get().Data[:], f)
	pkts.PushBack(p)
	pkts, n, err := nic.TxBatch(0, pkts)
	if err != nil || n != 1 {
		t.Fatalf("TxBatch: %d %v", n, err)
	}
	pkts.Drop()
	if got := r.capture(t); !bytes.Equal(got, f) {
		t.Fatalf("sent %x", got)
	}
}
