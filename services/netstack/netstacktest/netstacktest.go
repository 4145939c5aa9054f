// Package netstacktest joins network stack domains in a test: Pair is an
// Ethernet cable in memory between two NICs (each an idl.Net domain of
// kind WireKind), and StartPair runs a netstack domain over each end, as
// the system runs one over a NIC. It is test-support code, not a domain.
package netstacktest

import (
	"fmt"
	"sync"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/net/stack"
	"github.com/rlgo/redleaf/services/netstack"
)

// WireKind is the domain kind of one end of a Pair, granted the *End as
// the device "end".
const WireKind = "netstacktest-wire"

// queueLimit is how many frames an end keeps for its receiver; more are
// dropped, as a NIC with a full ring drops them.
const queueLimit = 1024

func init() {
	domain.Register(WireKind, func(ctx *domain.Context) (idl.Net, error) {
		return domain.Device[*End](ctx, "end")
	})
}

// An End is one NIC of a Pair: what it transmits the other end receives.
type End struct {
	mac  [6]byte
	peer *End

	// host, if set, stands for the NIC at this end of the cable: it
	// answers each frame sent to it (see Wire).
	host func(frame []byte) [][]byte

	mu      sync.Mutex
	in      [][]byte
	dropped uint64
}

// Wire makes one NIC whose cable leads to host instead of a second NIC:
// host gets every frame the NIC transmits and returns the frames the
// segment sends back (a DHCP server, a router). host runs on the
// transmitting thread, one frame at a time.
func Wire(mac [6]byte, host func(frame []byte) [][]byte) *End {
	e := &End{mac: mac}
	e.peer = &End{peer: e, host: host}
	return e
}

// Pair makes the two ends of a cable.
func Pair(macA, macB [6]byte) (*End, *End) {
	a, b := &End{mac: macA}, &End{mac: macB}
	a.peer, b.peer = b, a
	return a, b
}

// RxBatch implements idl.Net.
func (e *End) RxBatch(_ uint16, bufs rref.Deque[idl.Packet]) (rref.Deque[idl.Packet], int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for i := range bufs.Len() {
		p := bufs.At(i)
		if p.Len == 0 && len(e.in) > 0 {
			p.Len = uint16(copy(p.Data[:], e.in[0]))
			e.in[0] = nil
			e.in = e.in[1:]
			n++
		}
	}
	return bufs, n, nil
}

// TxBatch implements idl.Net.
func (e *End) TxBatch(_ uint16, pkts rref.Deque[idl.Packet]) (rref.Deque[idl.Packet], int, error) {
	n := 0
	for i := range pkts.Len() {
		p := pkts.At(i)
		if p.Len == 0 {
			continue
		}
		if p.Len > idl.MaxFrame {
			return pkts, n, fmt.Errorf("netstacktest: a frame of %d bytes is longer than %d", p.Len, idl.MaxFrame)
		}
		e.peer.deliver(p.Data[:p.Len])
		p.Len = 0
		n++
	}
	return pkts, n, nil
}

func (e *End) deliver(f []byte) {
	if e.host != nil {
		for _, r := range e.host(f) {
			e.peer.deliver(r)
		}
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.in) >= queueLimit {
		e.dropped++
		return
	}
	e.in = append(e.in, append([]byte(nil), f...))
}

// LinkStatus implements idl.Net.
func (e *End) LinkStatus() (idl.Link, error) {
	return idl.Link{Up: true, SpeedMbps: 10000, MAC: e.mac}, nil
}

// Stats implements idl.Net.
func (e *End) Stats() (idl.NetStats, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return idl.NetStats{RxMissed: e.dropped}, nil
}

// SetPromisc implements idl.Net.
func (e *End) SetPromisc(bool) error { return nil }

// Addresses of the stacks StartPair runs.
var (
	AddrA = [4]byte{10, 0, 0, 1}
	AddrB = [4]byte{10, 0, 0, 2}
)

// StartPair starts two netstack domains in m, named netstack-a and
// netstack-b, at AddrA and AddrB over the two ends of a Pair, and returns
// them.
func StartPair(m *domain.Manager) (a, b *domain.Domain, err error) {
	ea, eb := Pair([6]byte{0x02, 0, 0, 0, 0, 1}, [6]byte{0x02, 0, 0, 0, 0, 2})
	start := func(name string, e *End, addr [4]byte, seed uint64) (*domain.Domain, error) {
		nd, err := m.Create(WireKind, domain.Name(name+"-nic"), domain.GrantDevice("end", e))
		if err != nil {
			return nil, err
		}
		return m.Create(netstack.Kind, domain.Name(name),
			domain.Grant(netstack.GrantNet, nd),
			domain.GrantDevice(netstack.GrantConfig, netstack.Config{Stack: stack.Config{Addr: addr, Seed: seed}}))
	}
	if a, err = start("netstack-a", ea, AddrA, 0x5eed_a); err != nil {
		return nil, nil, err
	}
	if b, err = start("netstack-b", eb, AddrB, 0x5eed_b); err != nil {
		return nil, nil, err
	}
	return a, b, nil
}
