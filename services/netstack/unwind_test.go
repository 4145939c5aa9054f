package netstack_test

import (
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/net/stack"
	"github.com/rlgo/redleaf/services/netstack"
)

// gateKind is a NIC that receives nothing and, once shut, holds the next
// RxBatch until the gate opens: the stack's polling thread is then inside
// the NIC's domain, holding the stack's lock.
const gateKind = "netstack-test-gate"

type gate struct {
	shut    chan struct{} // closed: hold the next RxBatch
	entered chan struct{} // closed by the held RxBatch
	open    chan struct{} // closed: let it go
}

func init() {
	domain.Register(gateKind, func(ctx *domain.Context) (idl.Net, error) {
		return domain.Device[*gate](ctx, "gate")
	})
}

func (g *gate) RxBatch(_ uint16, bufs rref.Deque[idl.Packet]) (rref.Deque[idl.Packet], int, error) {
	select {
	case <-g.shut:
		select {
		case <-g.entered:
		default:
			close(g.entered)
			<-g.open
		}
	default:
	}
	return bufs, 0, nil
}

func (g *gate) TxBatch(_ uint16, pkts rref.Deque[idl.Packet]) (rref.Deque[idl.Packet], int, error) {
	return pkts, 0, nil
}
func (g *gate) LinkStatus() (idl.Link, error) {
	return idl.Link{Up: true, SpeedMbps: 10000, MAC: [6]byte{2, 0, 0, 0, 0, 9}}, nil
}
func (g *gate) Stats() (idl.NetStats, error) { return idl.NetStats{}, nil }
func (g *gate) SetPromisc(bool) error        { return nil }

// TestDeathInsideTheNIC kills the stack while its polling thread is inside
// the NIC (holding the stack's lock) and a caller from another domain is
// inside the stack's Wait: the polling thread unwinds on its way back, and
// the caller must get the lock and come back, not wait for it forever.
func TestDeathInsideTheNIC(t *testing.T) {
	m := domain.NewManager()
	t.Cleanup(m.Close)
	g := &gate{shut: make(chan struct{}), entered: make(chan struct{}), open: make(chan struct{})}
	nd, err := m.Create(gateKind, domain.GrantDevice("gate", g))
	if err != nil {
		t.Fatal(err)
	}
	sd, err := m.Create(netstack.Kind, domain.Grant(netstack.GrantNet, nd),
		domain.GrantDevice(netstack.GrantConfig, netstack.Config{Stack: stack.Config{Addr: [4]byte{10, 0, 0, 9}, Seed: 9}}))
	if err != nil {
		t.Fatal(err)
	}
	inet, err := domain.Connect[idl.Inet](m.Kernel(), sd)
	if err != nil {
		t.Fatal(err)
	}
	l, err := inet.Listen(80, 1)
	if err != nil {
		t.Fatal(err)
	}
	// The caller is inside Wait (a second long, nobody connects) when
	// the polling thread enters the NIC and stays there.
	waited := make(chan error, 1)
	go func() {
		_, err := inet.Wait(l, idl.SockReadable, idl.MaxWait)
		waited <- err
	}()
	close(g.shut)
	<-g.entered
	// Wait checks the socket every 250 µs: by now it is blocked on the
	// lock the polling thread holds inside the NIC.
	time.Sleep(20 * time.Millisecond)
	m.Kill(sd)
	close(g.open)
	select {
	case err := <-waited:
		t.Logf("the caller inside the dead stack came back: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("a caller inside the stack is still waiting for the lock of the dead instance after 10 s")
	}
	end := time.Now().Add(10 * time.Second)
	for s := m.Stats(); s.Lingering > 0; s = m.Stats() {
		if time.Now().After(end) {
			t.Fatalf("threads of the dead stack still running: %+v", s)
		}
		time.Sleep(time.Millisecond)
	}
}
