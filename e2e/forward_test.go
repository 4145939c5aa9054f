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

// `rlbuild boot --forward HOST:7000` (qemu.Config.AddForwards): the booted
// system runs the TCP/IP stack domain on the forwarding NIC, Rv6's nc
// listens on it, and a TCP connection from the host's 127.0.0.1:HOST
// through QEMU's user network reaches it: the line the host sends lands in
// a file. Then the other way: nc in the guest connects to a listener on
// the host's loopback (10.0.2.2 on QEMU's user network) and sends a line.
func TestForwardTCP(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	c := kernelMode(t, "configs/qemu.yaml")
	hostPort := freeTCPPort(t)
	fwds, err := qemu.ParseForwards([]string{fmt.Sprintf("%d:7000", hostPort)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddForwards(fwds); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bv := bootVM(t, ctx, c)
	vm, fail, expect := bv.vm, bv.fail, bv.expect
	send := bv.send
	start := time.Now()
	expect(4*time.Minute, `RedLeaf-Go domain kernel`)
	expect(2*time.Minute, `net: 0000:[0-9a-f:.]+ \(1af4:10(00|41)\) taken from .*: domain virtio-net \(shadowed\), 52:54:00:72:6c:01, link up`)
	expect(time.Minute, `netstack: TCP/IP on 10\.0\.2\.15/24`)
	expect(2*time.Minute, `rv6: / on ramdisk`)
	expect(time.Minute, `\$ `)
	t.Logf("booted in %v", time.Since(start).Round(time.Second))

	// Host to guest: nc listens (-d: no standard input, it is in the
	// background; -v: says when it listens).
	send(`grant inet nc -l -dv 7000 > /got &`)
	expect(time.Minute, `nc: listening on 10\.0\.2\.15:7000`)
	const line = "hello through the forward"
	// QEMU accepts on the host port whether or not the guest answers,
	// and closes the connection when the guest refuses or does not
	// answer: the line is sent once the guest listens, and the file
	// shows whether it arrived.
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", hostPort), 30*time.Second)
	if err != nil {
		fail("dialing the forward: %v", err)
	}
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	if _, err := io.WriteString(conn, line+"\n"); err != nil {
		fail("writing to the forward: %v", err)
	}
	conn.(*net.TCPConn).CloseWrite()
	// nc ends when both sides are done: it has nothing to send (-d), so
	// our read sees the end of the connection once nc has closed it.
	rest, err := io.ReadAll(conn)
	conn.Close()
	if err != nil || len(rest) != 0 {
		fail("reading the forward's end: %q, %v", rest, err)
	}
	send(`wait; cat /got; echo got $?`)
	expect(time.Minute, `(?m)^`+line+`\r?$`)
	expect(time.Minute, `(?m)^got 0\r?$`)
	t.Logf("host to guest done after %v", time.Since(start).Round(time.Second))

	// Guest to host: QEMU's user network takes the guest's connections
	// to 10.0.2.2 to the host's loopback.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("%v", err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- "accept: " + err.Error()
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Minute))
		b, err := io.ReadAll(bufio.NewReader(io.LimitReader(c, 4096)))
		if err != nil {
			got <- "read: " + err.Error()
			return
		}
		got <- string(b)
	}()
	send(fmt.Sprintf(`echo hi from the guest | grant inet nc -w 30 10.0.2.2 %d; echo sent $?`, ln.Addr().(*net.TCPAddr).Port))
	expect(2*time.Minute, `(?m)^sent 0\r?$`)
	select {
	case s := <-got:
		if strings.TrimRight(s, "\r\n") != "hi from the guest" {
			fail("the host's listener got %q, want %q", s, "hi from the guest\n")
		}
	case <-time.After(time.Minute):
		fail("the host's listener got nothing a minute after nc ended")
	}
	t.Logf("guest to host done after %v", time.Since(start).Round(time.Second))
	expect(time.Minute, `\$ `)
	send(`poweroff`)
	select {
	case <-vm.Done():
	case <-time.After(2 * time.Minute):
		fail("QEMU still running 2 minutes after poweroff")
	}
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
