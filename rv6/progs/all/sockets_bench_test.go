package all_test

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"testing"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/ulib"
	"github.com/rlgo/redleaf/services/netstack/netstacktest"
)

// rv6test-sockbench MODE BYTES PORT sends BYTES from inet:a to a listener
// on inet:b, through descriptors (MODE fd: what programs do) or through
// the stacks' idl.Inet directly (MODE direct: the path before sockets
// were descriptors), for BenchmarkSocketStream.
func init() {
	ulib.Register("rv6test-sockbench", func(p *ulib.Proc) int {
		size, _ := strconv.Atoi(p.Args[2])
		port, _ := ulib.ParsePort(p.Args[3])
		var err error
		if p.Args[1] == "fd" {
			err = benchFd(p, size, port)
		} else {
			err = benchDirect(p, size, port)
		}
		if err != nil {
			p.Fatalf("%v", err)
		}
		return 0
	})
}

func benchFd(p *ulib.Proc, size int, port uint16) error {
	a, err := p.Inet("inet:a")
	if err != nil {
		return err
	}
	b, err := p.Inet("inet:b")
	if err != nil {
		return err
	}
	l, err := b.Listen(port, 1)
	if err != nil {
		return err
	}
	defer l.Close()
	c, err := a.Dial(netstacktest.AddrB, port, 0)
	if err != nil {
		return err
	}
	s, err := l.Accept()
	if err != nil {
		return err
	}
	defer s.Close()
	p.Go("send", func() {
		buf := make([]byte, idl.IOSize)
		for left := size; left > 0; {
			n, err := c.Write(buf[:min(left, len(buf))])
			if err != nil {
				break
			}
			left -= n
		}
		c.Close()
	})
	n, err := io.Copy(io.Discard, s)
	if err == nil && n != int64(size) {
		err = fmt.Errorf("got %d bytes of %d", n, size)
	}
	return err
}

// benchDirect is benchFd through the idl.Inet capabilities.
func benchDirect(p *ulib.Proc, size int, port uint16) error {
	a, err := ulib.Cap[idl.Inet](p, "inet:a")
	if err != nil {
		return err
	}
	b, err := ulib.Cap[idl.Inet](p, "inet:b")
	if err != nil {
		return err
	}
	l, err := b.Listen(port, 1)
	if err != nil {
		return err
	}
	defer b.Close(l)
	c, err := a.Dial(netstacktest.AddrB, port)
	if err != nil {
		return err
	}
	var s int64
	for {
		if s, err = b.Accept(l); !errors.Is(err, errno.EAGAIN) {
			break
		}
		b.Wait(l, idl.SockReadable, idl.MaxWait)
	}
	if err != nil {
		return err
	}
	defer b.Close(s)
	p.Go("send", func() {
		out := rref.New(p.Heap(), idl.IOBuf{})
		for left := size; left > 0; {
			n, err := a.Send(c, out.Borrow(), int32(min(left, idl.IOSize)))
			if err != nil && !errors.Is(err, errno.EAGAIN) {
				break
			}
			left -= int(n)
			if errors.Is(err, errno.EAGAIN) {
				a.Wait(c, idl.SockWritable, idl.MaxWait)
			}
		}
		a.Close(c)
	})
	in := rref.New(p.Heap(), idl.IOBuf{})
	got := 0
	for {
		buf, n, err := b.Recv(s, in, idl.IOSize)
		in = buf
		switch {
		case errors.Is(err, errno.EAGAIN):
			b.Wait(s, idl.SockReadable, idl.MaxWait)
			continue
		case err != nil:
			return err
		case n == 0:
			if got != size {
				return fmt.Errorf("got %d bytes of %d", got, size)
			}
			return nil
		}
		got += int(n)
	}
}

// BenchmarkSocketStream is one TCP stream between the two in-memory
// stacks, read and written by one program: through descriptors (Rv6 in
// the middle) against the stacks' idl.Inet directly, in the same run.
func BenchmarkSocketStream(b *testing.B) {
	const size = 8 << 20
	for _, mode := range []string{"direct", "fd"} {
		b.Run(mode, func(b *testing.B) {
			s := bootInet(b)
			b.SetBytes(size)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				out, st := s.Sh(b, fmt.Sprintf("grant inet:a,inet:b rv6test-sockbench %s %d %d", mode, size, 9100+i%100))
				if st.Status != 0 {
					b.Fatalf("%+v:\n%s", st, out)
				}
			}
		})
	}
}
