package idlnet

import (
	"bytes"
	"crypto/sha256"
	"io"
	"testing"
	"time"

	"github.com/rlgo/redleaf/drivers/ixgbe"
	"github.com/rlgo/redleaf/drivers/ixgbe/model"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/net/stack"
)

// wire is the other end of the model's cable: a stack.Link that injects
// what it sends into the model's RX queue 0 and receives what the driver
// sent on TX queue 0.
type wire struct {
	m   *model.Model
	mac [6]byte
}

func (w *wire) HardwareAddr() [6]byte { return w.mac }
func (w *wire) Receive() ([][]byte, error) {
	return w.m.Captured(0), nil
}
func (w *wire) Transmit(frames [][]byte) (int, error) {
	for _, f := range frames {
		w.m.Inject(0, f)
	}
	return len(frames), nil
}

// TestOverIxgbe runs the stack over the ixgbe driver domain on the 82599
// model, through the adapter, and moves 4 MiB over TCP to a second stack
// on the other end of the model's wire.
func TestOverIxgbe(t *testing.T) {
	m := model.New(model.Config{})
	mgr := domain.NewManager()
	t.Cleanup(mgr.Close)
	d, err := mgr.Create(ixgbe.Kind, domain.GrantDevice(ixgbe.GrantPCI, hw.PCIDevice(m)), domain.GrantDevice(ixgbe.GrantConfig, ixgbe.Config{}))
	if err != nil {
		t.Fatal(err)
	}
	nic, err := domain.Connect[idl.Net](mgr.Kernel(), d)
	if err != nil {
		t.Fatal(err)
	}
	link, err := New(nic, mgr.Kernel().Heap(), 0, 32)
	if err != nil {
		t.Fatal(err)
	}
	a, err := stack.New(link, stack.Config{Addr: [4]byte{10, 0, 0, 1}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := stack.New(&wire{m: m, mac: [6]byte{2, 0, 0, 0, 0, 2}}, stack.Config{Addr: [4]byte{10, 0, 0, 2}, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Second
	poll := func() {
		now += 100 * time.Microsecond
		if _, err := a.Poll(now); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Poll(now); err != nil {
			t.Fatal(err)
		}
	}
	l, _ := b.Listen(7, 4)
	c, _ := a.Dial([4]byte{10, 0, 0, 2}, 7)
	var s stack.Conn
	for i := 0; ; i++ {
		poll()
		if s, err = l.Accept(); err == nil {
			break
		}
		if i > 10000 {
			t.Fatalf("no connection over the NIC: %+v", a.Stats())
		}
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 256<<10)
	var got []byte
	buf := make([]byte, 32<<10)
	off := 0
	for i := 0; ; i++ {
		if off < len(data) {
			n, _ := c.Write(data[off:])
			off += n
			if off == len(data) {
				c.Shutdown(stack.ShutWrite)
			}
		}
		poll()
		n, err := s.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if i > 1_000_000 {
			t.Fatalf("transfer stuck at %d bytes", len(got))
		}
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("received %d bytes, checksum differs", len(got))
	}
	if errs := m.Errors(); len(errs) > 0 {
		t.Fatal(errs)
	}
}
