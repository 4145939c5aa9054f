package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/qemu"
)

// TestDHCPUserNet boots the stack domain with rl.netaddr=dhcp on the
// forwarding NIC: QEMU's user network's DHCP server (10.0.2.2) gives it
// 10.0.2.15/24 with 10.0.2.2 as the router, Rv6's ifconfig shows the
// lease through the stack's capability, and nc in the guest reaches a
// listener on the host (10.0.2.2 is the host's loopback there) from the
// leased address.
func TestDHCPUserNet(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	c := kernelMode(t, "configs/qemu.yaml")
	fwds, err := qemu.ParseForwards([]string{fmt.Sprintf("%d:7000", freeTCPPort(t))})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddForwards(fwds); err != nil {
		t.Fatal(err)
	}
	c.Cmdline += " rl.netaddr=dhcp" // the last rl.netaddr wins
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bv := bootVM(t, ctx, c)
	vm, fail, expect := bv.vm, bv.fail, bv.expect
	send := bv.send
	start := time.Now()
	expect(4*time.Minute, `RedLeaf-Go domain kernel`)
	expect(time.Minute, `netstack: TCP/IP on an address by DHCP`)
	expect(time.Minute, `netstack: DHCP: 10\.0\.2\.15/24 via 10\.0\.2\.2 from server 10\.0\.2\.2`)
	t.Logf("lease after %v", time.Since(start).Round(time.Second))
	expect(2*time.Minute, `rv6: / on ramdisk`)
	expect(time.Minute, `\$ `)
	send(`grant inet ifconfig`)
	expect(time.Minute, `inet:virtio0: 10\.0\.2\.15/24 via 10\.0\.2\.2, mac 52:54:00:72:6c:01, dhcp bound \(server 10\.0\.2\.2, lease \S+ left\)`)
	expect(time.Minute, `netstack: TCP/IP stack domain on virtio-net`)

	ln := listenLine(t)
	send(fmt.Sprintf(`echo hi from a leased address | grant inet nc -w 30 10.0.2.2 %d; echo sent $?`, ln.port))
	expect(2*time.Minute, `(?m)^sent 0\r?$`)
	select {
	case s := <-ln.got:
		if s != "hi from a leased address" {
			fail("the host's listener got %q", s)
		}
	case <-time.After(time.Minute):
		fail("the host's listener got nothing a minute after nc ended")
	}
	expect(time.Minute, `\$ `)
	send(`poweroff`)
	select {
	case <-vm.Done():
	case <-time.After(2 * time.Minute):
		fail("QEMU still running 2 minutes after poweroff")
	}
}

// lineListener is a listener on the host's loopback that takes one
// connection and reports its first line (or what went wrong).
type lineListener struct {
	port int
	got  chan string
}

func listenLine(t *testing.T) lineListener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ll := lineListener{port: l.Addr().(*net.TCPAddr).Port, got: make(chan string, 1)}
	go func() {
		c, err := l.Accept()
		if err != nil {
			ll.got <- "accept: " + err.Error()
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Minute))
		s, err := bufio.NewReader(io.LimitReader(c, 4096)).ReadString('\n')
		if err != nil && s == "" {
			ll.got <- "read: " + err.Error()
			return
		}
		ll.got <- strings.TrimRight(s, "\r\n")
	}()
	return ll
}
