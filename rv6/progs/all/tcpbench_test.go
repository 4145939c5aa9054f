package all_test

import (
	"strings"
	"testing"
)

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
