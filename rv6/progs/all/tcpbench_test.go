package all_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/net/tcpbench"
	"github.com/rlgo/redleaf/rv6/ulib"
)

func init() {
	// rv6test-conns N: N tcpbench downloads of one byte from
	// 10.0.0.2:5001, each on a connection of its own, and the RRefs the
	// program holds after the first and after the last.
	ulib.Register("rv6test-conns", func(p *ulib.Proc) int {
		n, err := p.Inet("inet:a")
		if err != nil {
			fmt.Fprintln(p.Stderr, err)
			return 1
		}
		var first int
		for i := range 20 {
			c, err := n.Dial([4]byte{10, 0, 0, 2}, 5001, 10*time.Second)
			if err == nil {
				err = tcpbench.Download(c, 1, make([]byte, 1024))
				c.Close()
			}
			if err != nil {
				fmt.Fprintln(p.Stderr, err)
				return 1
			}
			if i == 0 {
				first = p.Heap().Held()
			}
		}
		fmt.Fprintf(p.Stdout, "held after the first connection %d, after the last %d\n", first, p.Heap().Held())
		return 0
	})
}

// A closed connection gives its buffers back: a program that opens
// connection after connection (a server) holds no more of the heap for
// it (Rv6's httpd ran a 1 GiB guest out of memory before).
func TestConnCloseFreesBuffers(t *testing.T) {
	s := bootInet(t)
	// The client starts once the server listens: dialing before, it was
	// refused and ended, and the server waited for its 20 connections.
	p := s.Start(t, "grant inet:b tcpbench -n 20 -l 5001 &\n", "sh")
	waitOutput(t, p, "tcpbench: listening on 10.0.0.2:5001")
	p.Type([]byte("grant inet:a rv6test-conns\nwait\nexit\n"))
	p.Type(nil)
	out, st, err := p.Wait()
	if err != nil || st.Status != 0 {
		t.Fatalf("sh: %+v %v\n%s", st, err, out)
	}
	var first, last int
	if _, err := fmt.Sscanf(out[strings.Index(out, "held after"):], "held after the first connection %d, after the last %d", &first, &last); err != nil {
		t.Fatalf("no count in the output: %v\n%s", err, out)
	}
	if last != first {
		t.Errorf("the program held %d RRefs after the first connection and %d after 19 more: closed connections keep their buffers", first, last)
	}
}

// tcpbench answers both kinds of transfer, one client after the other,
// with nc on the other stack as its client.
func TestTcpbench(t *testing.T) {
	s := bootInet(t)
	s.WriteFile(t, "/up", "recv 6\nhello\n")
	s.WriteFile(t, "/down", "send 5000\n")
	p := s.Start(t, "grant inet:b tcpbench -n 2 -l 5001 &\n", "sh")
	waitOutput(t, p, "tcpbench: listening on 10.0.0.2:5001")
	p.Type([]byte("grant inet:a nc 10.0.0.2 5001 < /up > /answer\ngrant inet:a nc 10.0.0.2 5001 < /down | wc -c\nwait\nexit\n"))
	p.Type(nil)
	out, st, err := p.Wait()
	t.Logf("%s", out)
	if err != nil || !st.Exited || st.Status != 0 {
		t.Fatalf("sh: %+v %v", st, err)
	}
	for _, want := range []string{"tcpbench: recv 6 bytes in ", "tcpbench: send 5000 bytes in ", "5000\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the output", want)
		}
	}
	if got := s.ReadFile(t, "/answer"); got != "received 6\n" {
		t.Errorf("the answer to the upload is %q, want \"received 6\\n\"", got)
	}
}

func TestTcpbenchUsage(t *testing.T) {
	s := bootInet(t)
	for _, args := range [][]string{{}, {"-l", "0"}, {"-l", "5001", "-n", "0"}, {"-l", "5001", "x"}} {
		if out, st := s.Run(t, "tcpbench", args...); st.Status != 2 {
			t.Errorf("tcpbench %q: %+v, want a usage error:\n%s", args, st, out)
		}
	}
}
