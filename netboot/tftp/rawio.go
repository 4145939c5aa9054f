package tftp

import (
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawIO sends and receives on a transfer's socket without Go's system
// call bookkeeping.
//
// A lock-step transfer is one packet each way per block, so per block
// the server does a send and a receive. Through net.UDPConn each of
// those is a syscall.Syscall, whose entersyscall wakes the runtime's
// monitor thread (sysmon) when it sleeps because the process was idle
// waiting for the ACK: with the client on the same CPU, that was a
// context switch or two per block and ~10% of the transfer time
// (BENCHMARKS.md). The socket is non-blocking (Go's poller owns it), so
// send and recv never block in the kernel and can be raw system calls;
// waiting for readability and deadlines still go through the poller
// (syscall.RawConn), so SetReadDeadline and cancellation work as before.
type rawIO struct {
	c  *net.UDPConn
	rc syscall.RawConn
}

func newRawIO(c *net.UDPConn) (*rawIO, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &rawIO{c: c, rc: rc}, nil
}

// Write sends one datagram to the connected peer.
func (r *rawIO) Write(p []byte) (int, error) {
	var n int
	var errno syscall.Errno
	err := r.rc.Write(func(fd uintptr) bool {
		n, errno = 0, 0
		var ptr unsafe.Pointer
		if len(p) > 0 {
			ptr = unsafe.Pointer(&p[0])
		}
		v, _, e := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(ptr), uintptr(len(p)))
		n, errno = int(v), e
		return e != unix.EAGAIN // EAGAIN: wait until writable
	})
	if err == nil && errno != 0 {
		err = &net.OpError{Op: "write", Net: "udp", Addr: r.c.RemoteAddr(), Err: errno}
	}
	return n, err
}

// Read receives one datagram, waiting through the poller (and its read
// deadline) while there is none.
func (r *rawIO) Read(p []byte) (int, error) {
	var n int
	var errno syscall.Errno
	err := r.rc.Read(func(fd uintptr) bool {
		n, errno = 0, 0
		var ptr unsafe.Pointer
		if len(p) > 0 {
			ptr = unsafe.Pointer(&p[0])
		}
		v, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(ptr), uintptr(len(p)))
		n, errno = int(v), e
		return e != unix.EAGAIN // EAGAIN: wait until readable
	})
	if err == nil && errno != 0 {
		err = &net.OpError{Op: "read", Net: "udp", Addr: r.c.RemoteAddr(), Err: errno}
	}
	return n, err
}
