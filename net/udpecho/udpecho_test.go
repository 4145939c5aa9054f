package udpecho

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
)

// wire is a NIC in memory: frames put into in are received, frames sent
// come out of out.
type wire struct {
	mu  sync.Mutex
	in  [][]byte
	out chan []byte
	mac [6]byte
}

func (w *wire) RxBatch(_ uint16, bufs rref.Deque[idl.Packet]) (rref.Deque[idl.Packet], int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for range bufs.Len() {
		r, _ := bufs.PopFront()
		if p := r.Get(); p.Len == 0 && len(w.in) > 0 {
			p.Len = uint16(copy(p.Data[:], w.in[0]))
			w.in = w.in[1:]
			n++
		}
		bufs.PushBack(r)
	}
	return bufs, n, nil
}

func (w *wire) TxBatch(_ uint16, pkts rref.Deque[idl.Packet]) (rref.Deque[idl.Packet], int, error) {
	n := 0
	for range pkts.Len() {
		r, _ := pkts.PopFront()
		if p := r.Get(); p.Len > 0 {
			w.out <- append([]byte(nil), p.Data[:p.Len]...)
			p.Len = 0
			n++
		}
		pkts.PushBack(r)
	}
	return pkts, n, nil
}

func (w *wire) LinkStatus() (idl.Link, error) { return idl.Link{Up: true, MAC: w.mac}, nil }
func (w *wire) Stats() (idl.NetStats, error)  { return idl.NetStats{}, nil }
func (w *wire) SetPromisc(bool) error         { return nil }

func (w *wire) send(f []byte) {
	w.mu.Lock()
	w.in = append(w.in, f)
	w.mu.Unlock()
}

func init() {
	domain.Register("test-wire", func(ctx *domain.Context) (idl.Net, error) {
		return domain.Device[*wire](ctx, "wire")
	})
}

var (
	echoMAC = [6]byte{0x52, 0x54, 0, 0x12, 0x34, 0x56}
	hostMAC = [6]byte{0x52, 0x55, 0x0a, 0, 2, 2}
	hostIP  = [4]byte{10, 0, 2, 2}
)

func start(t *testing.T) (*wire, idl.UDPEcho) {
	t.Helper()
	m := domain.NewManager()
	t.Cleanup(m.Close)
	w := &wire{out: make(chan []byte, 16), mac: echoMAC}
	nd, err := m.Create("test-wire", domain.GrantDevice("wire", w))
	if err != nil {
		t.Fatal(err)
	}
	ed, err := m.Create(Kind, domain.Grant(GrantNet, nd), domain.GrantDevice(GrantConfig, Config{Idle: 100 * time.Microsecond}))
	if err != nil {
		t.Fatal(err)
	}
	e, err := domain.Connect[idl.UDPEcho](m.Kernel(), ed)
	if err != nil {
		t.Fatal(err)
	}
	return w, e
}

func (w *wire) next(t *testing.T) []byte {
	t.Helper()
	select {
	case f := <-w.out:
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no frame sent in 5 s")
		return nil
	}
}

func eth(dst, src [6]byte, typ uint16, payload []byte) []byte {
	f := append(append(append([]byte(nil), dst[:]...), src[:]...), byte(typ>>8), byte(typ))
	return append(f, payload...)
}

func arpRequest(target [4]byte) []byte {
	a := make([]byte, 28)
	binary.BigEndian.PutUint16(a[0:], 1)
	binary.BigEndian.PutUint16(a[2:], 0x0800)
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:], 1)
	copy(a[8:], hostMAC[:])
	copy(a[14:], hostIP[:])
	copy(a[24:], target[:])
	return eth([6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, hostMAC, 0x0806, a)
}

func ipv4(proto byte, dst [4]byte, body []byte) []byte {
	ip := make([]byte, 20, 20+len(body))
	ip[0], ip[8], ip[9] = 0x45, 17, proto
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(body)))
	copy(ip[12:], hostIP[:])
	copy(ip[16:], dst[:])
	binary.BigEndian.PutUint16(ip[10:], checksum(ip))
	return eth(echoMAC, hostMAC, 0x0800, append(ip, body...))
}

func udp(sport, dport uint16, data string) []byte {
	u := make([]byte, 8, 8+len(data))
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(data)))
	u = append(u, data...)
	// The checksum over the pseudo-header.
	ph := append(append(append([]byte(nil), hostIP[:]...), DefaultAddr[:]...), 0, 17, u[4], u[5])
	binary.BigEndian.PutUint16(u[6:], checksum(append(ph, u...)))
	return u
}

func TestEcho(t *testing.T) {
	w, e := start(t)

	// ARP for another address: ignored; for ours: answered.
	w.send(arpRequest([4]byte{10, 0, 2, 99}))
	w.send(arpRequest(DefaultAddr))
	r := w.next(t)
	if len(r) != 60 || [6]byte(r[0:6]) != hostMAC || [6]byte(r[6:12]) != echoMAC || binary.BigEndian.Uint16(r[20:]) != 2 ||
		[6]byte(r[22:28]) != echoMAC || [4]byte(r[28:32]) != DefaultAddr || [6]byte(r[32:38]) != hostMAC || [4]byte(r[38:42]) != hostIP {
		t.Errorf("ARP reply % x", r)
	}

	// UDP to port 7: back, ports and addresses swapped, checksums right.
	w.send(ipv4(17, DefaultAddr, udp(5555, 9, "not the echo port")))
	w.send(ipv4(17, [4]byte{10, 0, 2, 16}, udp(5555, 7, "not our address")))
	w.send(ipv4(17, DefaultAddr, udp(5555, 7, "hello, echo")))
	r = w.next(t)
	ip := r[14:]
	u := ip[20:]
	if [6]byte(r[0:6]) != hostMAC || [4]byte(ip[12:16]) != DefaultAddr || [4]byte(ip[16:20]) != hostIP || checksum(ip[:20]) != 0 ||
		binary.BigEndian.Uint16(u[0:]) != 7 || binary.BigEndian.Uint16(u[2:]) != 5555 || string(u[8:binary.BigEndian.Uint16(u[4:])]) != "hello, echo" || len(r) != 60 {
		t.Errorf("UDP echo % x", r)
	}
	ph := append(append(append([]byte(nil), ip[12:20]...), 0, 17), u[4], u[5])
	if checksum(append(ph, u[:binary.BigEndian.Uint16(u[4:])]...)) != 0 {
		t.Error("the echoed datagram's UDP checksum is wrong")
	}

	// Ping.
	icmp := []byte{8, 0, 0, 0, 0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g'}
	binary.BigEndian.PutUint16(icmp[2:], checksum(icmp))
	w.send(ipv4(1, DefaultAddr, icmp))
	r = w.next(t)
	if got := r[34 : 34+len(icmp)]; got[0] != 0 || checksum(got) != 0 || !bytes.Equal(got[4:], icmp[4:]) {
		t.Errorf("ping reply % x", got)
	}

	select {
	case f := <-w.out:
		t.Errorf("an answer to something that needs none: % x", f)
	case <-time.After(50 * time.Millisecond):
	}
	st, err := e.EchoStats()
	if err != nil || st.Echoed != 1 || st.ARPReplies != 1 || st.Pings != 1 || st.Ignored != 3 || st.Port != 7 || st.Addr != DefaultAddr {
		t.Errorf("stats %+v %v", st, err)
	}
}
