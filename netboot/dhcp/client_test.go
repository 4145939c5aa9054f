package dhcp

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/sys/unix"
)

// testClient is a DHCP client for tests and the load generator: a UDP
// socket on port 68 bound to an interface, sending broadcasts from
// 0.0.0.0 with the broadcast flag set, so that servers broadcast their
// replies and no raw socket is needed.
type testClient struct {
	conn *net.UDPConn
}

// newTestClient opens the socket; call it inside the client's namespace.
func newTestClient(iface string) (*testClient, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "client")
	defer f.Close()
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	if err := unix.BindToDevice(fd, iface); err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: ClientPort}); err != nil {
		return nil, err
	}
	pc, err := net.FilePacketConn(f)
	if err != nil {
		return nil, err
	}
	return &testClient{conn: pc.(*net.UDPConn)}, nil
}

func (c *testClient) Close() error { return c.conn.Close() }

var serverAddr = &net.UDPAddr{IP: net.IPv4bcast, Port: ServerPort}

// lease is the outcome of one exchange.
type lease struct{ Offer, ACK *dhcpv4.DHCPv4 }

// exchange runs DISCOVER/OFFER/REQUEST/ACK for mac, one at a time.
func (c *testClient) exchange(mac net.HardwareAddr, mods ...dhcpv4.Modifier) (*lease, error) {
	d, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithHwAddr(mac), dhcpv4.WithMessageType(dhcpv4.MessageTypeDiscover), dhcpv4.WithBroadcast(true)}, mods...)...)
	if err != nil {
		return nil, err
	}
	offer, err := c.roundTrip(d, dhcpv4.MessageTypeOffer)
	if err != nil {
		return nil, fmt.Errorf("DISCOVER: %w", err)
	}
	r, err := dhcpv4.NewRequestFromOffer(offer, append([]dhcpv4.Modifier{dhcpv4.WithBroadcast(true)}, mods...)...)
	if err != nil {
		return nil, err
	}
	ack, err := c.roundTrip(r, dhcpv4.MessageTypeAck)
	if err != nil {
		return nil, fmt.Errorf("REQUEST: %w", err)
	}
	return &lease{Offer: offer, ACK: ack}, nil
}

// roundTrip sends m (three tries) and waits for a reply of type want
// with its transaction ID.
func (c *testClient) roundTrip(m *dhcpv4.DHCPv4, want dhcpv4.MessageType) (*dhcpv4.DHCPv4, error) {
	buf := make([]byte, 1500)
	for try := 0; try < 3; try++ {
		if _, err := c.conn.WriteTo(m.ToBytes(), serverAddr); err != nil {
			return nil, err
		}
		deadline := time.Now().Add(2 * time.Second)
		c.conn.SetReadDeadline(deadline)
		for {
			n, _, err := c.conn.ReadFrom(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				return nil, err
			}
			r, err := dhcpv4.FromBytes(buf[:n])
			if err != nil || r.TransactionID != m.TransactionID || r.OpCode != dhcpv4.OpcodeBootReply {
				continue
			}
			if r.MessageType() == dhcpv4.MessageTypeNak {
				return nil, fmt.Errorf("NAK: %s", r.Message())
			}
			if r.MessageType() == want {
				return r, nil
			}
		}
	}
	return nil, errors.New("no reply")
}
