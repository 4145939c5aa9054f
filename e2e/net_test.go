package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// The booted system, asked to (rl.net=virtio), takes QEMU's virtio-net
// device from Linux and drives it with the virtio-net domain behind a
// shadow, with the UDP echo domain on it: a datagram sent from the host
// through QEMU's user network (hostfwd to the guest's port 7) comes back,
// and ifconfig counts it.
func TestVirtioNetEcho(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	c := kernelMode(t, "configs/qemu.yaml")
	port := freeUDPPort(t)
	// The monitor shell (rl.rv6=0) has ifconfig. Not restrict=on: QEMU's
	// user network then drops every UDP datagram from the guest, even the
	// replies to a forwarded port.
	c.Cmdline += " rl.rv6=0 rl.net=virtio rl.netaddr=10.0.2.15/24"
	c.ExtraArgs = append(c.ExtraArgs,
		"-netdev", fmt.Sprintf("user,id=n0,hostfwd=udp:127.0.0.1:%d-10.0.2.15:7", port),
		"-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	bv := bootVM(t, ctx, c)
	vm, fail, expect := bv.vm, bv.fail, bv.expect
	start := time.Now()
	expect(4*time.Minute, `RedLeaf-Go domain kernel`)
	expect(2*time.Minute, `net: 0000:[0-9a-f:.]+ \(1af4:10(00|41)\) taken from .*: domain virtio-net \(shadowed\), 52:54:00:12:34:56, link up`)
	expect(time.Minute, `udpecho: UDP echo on 10\.0\.2\.15/24 port 7`)
	expect(time.Minute, `(?m)^domains: .*virtio-net \(shadowed\), udpecho$`)
	expect(time.Minute, `\$ `)
	t.Logf("booted in %v", time.Since(start).Round(time.Second))

	// The host's side: QEMU forwards 127.0.0.1:port to the guest's port
	// 7. The first datagrams may be lost while QEMU's ARP learns the
	// guest's address: send until one comes back.
	conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		fail("%v", err)
	}
	defer conn.Close()
	var echoed string
	deadline := time.Now().Add(2 * time.Minute)
	for i := 0; echoed == "" && time.Now().Before(deadline); i++ {
		msg := fmt.Sprintf("hello from the host, datagram %d", i)
		if _, err := conn.Write([]byte(msg)); err != nil {
			fail("sending: %v", err)
		}
		conn.SetReadDeadline(time.Now().Add(time.Second))
		b := make([]byte, 2048)
		for {
			n, err := conn.Read(b)
			if err != nil {
				break // timeout (or ICMP refused before the guest listens): send again
			}
			if got := string(b[:n]); got == msg {
				echoed = got
				break
			} else if !strings.HasPrefix(got, "hello from the host") {
				fail("echo: %q, want %q", got, msg)
			}
		}
	}
	if echoed == "" {
		fail("no datagram came back in 2 minutes")
	}
	t.Logf("echoed %q after %v", echoed, time.Since(start).Round(time.Second))
	// A large one, whole.
	big := bytes.Repeat([]byte("0123456789abcdef"), 80)
	conn.Write(big)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	b := make([]byte, 4096)
	for {
		n, err := conn.Read(b)
		if err != nil {
			fail("the 1280-byte datagram did not come back: %v", err)
		}
		if bytes.Equal(b[:n], big) {
			break
		}
	}

	vm.Console().SendLine("ifconfig")
	expect(time.Minute, `virtio-net: 0000:\S+ \(1af4:10(00|41)\) 52:54:00:12:34:56 link up`)
	expect(time.Minute, `rx [1-9]\d* packets`)
	expect(time.Minute, `tx [1-9]\d* packets`)
	expect(time.Minute, `udpecho: 10\.0\.2\.15/24 port 7: echoed [1-9]\d*, ARP replies [1-9]\d*`)
	expect(time.Minute, `\$ `)
	vm.Console().SendLine("lspci")
	expect(time.Minute, `(?m)^0000:[0-9a-f:.]+ +1af4:10(00|41) +Ethernet +domain virtio-net *$`)
	expect(time.Minute, `\$ `)
	vm.Console().SendLine("poweroff")
	select {
	case <-vm.Done():
	case <-time.After(2 * time.Minute):
		fail("QEMU still running 2 minutes after poweroff")
	}
}

// freeUDPPort is a UDP port on 127.0.0.1 that nothing listens on (now).
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}
