package all_test

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/rv6/ulib"
)

func init() {
	// rv6test-halfclose: a connection from inet:a to a listener on inet:b;
	// the client writes, half-closes (CloseWrite must succeed), and the
	// server reads the bytes and then EOF, answers and closes; the client
	// reads the answer.
	ulib.Register("rv6test-halfclose", func(p *ulib.Proc) int {
		a, err := p.Inet("inet:a")
		if err != nil {
			p.Fatalf("%v", err)
		}
		b, err := p.Inet("inet:b")
		if err != nil {
			p.Fatalf("%v", err)
		}
		l, err := b.Listen(7400, 1)
		if err != nil {
			p.Fatalf("listen: %v", err)
		}
		info, _ := b.Info()
		c, err := a.Dial(info.Addr, 7400, 10*time.Second)
		if err != nil {
			p.Fatalf("dial: %v", err)
		}
		s, err := l.Accept()
		if err != nil {
			p.Fatalf("accept: %v", err)
		}
		if _, err := c.Write([]byte("request")); err != nil {
			p.Fatalf("write: %v", err)
		}
		fmt.Fprintf(p.Stdout, "closewrite: %v\n", c.CloseWrite())
		got, err := io.ReadAll(s)
		fmt.Fprintf(p.Stdout, "server read %q, %v\n", got, err)
		if _, err := s.Write([]byte("answer")); err != nil {
			p.Fatalf("answer: %v", err)
		}
		fmt.Fprintf(p.Stdout, "server closewrite: %v\n", s.CloseWrite())
		got, err = io.ReadAll(c)
		fmt.Fprintf(p.Stdout, "client read %q, %v\n", got, err)
		c.Close()
		s.Close()
		return 0
	})
}

// TestHalfClose: shutdown of the writing side succeeds (it reported an
// error on success once, which made httpd's refusal path reset its
// clients) and the peer reads EOF after the bytes written before it.
func TestHalfClose(t *testing.T) {
	s := bootInet(t)
	out, st := s.Sh(t, "grant inet:a,inet:b rv6test-halfclose")
	if !st.Exited || st.Status != 0 {
		t.Fatalf("status %+v:\n%s", st, out)
	}
	for _, want := range []string{"closewrite: <nil>\n", "server read \"request\", <nil>\n", "server closewrite: <nil>\n", "client read \"answer\", <nil>\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}
