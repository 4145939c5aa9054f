package ndp

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rlgo/redleaf/netboot/privnet"
)

func TestAdvertisement(t *testing.T) {
	ra := Advertisement(net.HardwareAddr{2, 0, 0, 0, 0, 1})
	want := []byte{134, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 0, 0, 0, 0, 1}
	if !bytes.Equal(ra, want) {
		t.Errorf("RA % x, want % x", ra, want)
	}
}

// TestRespond solicits from another namespace and waits for the answer.
func TestRespond(t *testing.T) {
	if err := privnet.Usable(); err != nil {
		t.Skip("needs root for network namespaces: ", err)
	}
	srv, err := privnet.New()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli, err := privnet.New()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if err := srv.AddBridge("br0", netip.MustParsePrefix("10.5.0.1/24")); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddVeth("v0", "br0", netip.Prefix{}, cli, "eth0", netip.Prefix{}); err != nil {
		t.Fatal(err)
	}
	var r *Responder
	if err := srv.Do(func() error {
		var err error
		r, err = Listen("br0", slog.New(slog.NewTextHandler(io.Discard, nil)))
		return err
	}); err != nil {
		t.Skip("no IPv6 here: ", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Serve(ctx)

	// The client: a raw ICMPv6 socket that sends a solicitation to
	// ff02::2 and waits for an advertisement. Link-local addresses take
	// a moment (DAD), so it tries for a while.
	var conn net.PacketConn
	err = cli.Do(func() error {
		fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMPV6)
		if err != nil {
			return err
		}
		f := os.NewFile(uintptr(fd), "rs")
		defer f.Close()
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, 255)
		unix.BindToDevice(fd, "eth0")
		conn, err = net.FilePacketConn(f)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rs := []byte{133, 0, 0, 0, 0, 0, 0, 0}
	buf := make([]byte, 1500)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		// Fails until the client's own IPv6 is up.
		conn.WriteTo(rs, &net.IPAddr{IP: net.ParseIP("ff02::2"), Zone: "eth0"})
		conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				break
			}
			if n >= 16 && buf[0] == 134 {
				if buf[6] != 0 || buf[7] != 0 || buf[5] != 0 {
					t.Errorf("RA offers a router or DHCPv6: % x", buf[:n])
				}
				return
			}
		}
	}
	t.Fatal("no router advertisement")
}
