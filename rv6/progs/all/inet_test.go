package all_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/rv6/rv6test"
	"github.com/rlgo/redleaf/services/netstack/netstacktest"
)

// bootInet boots Rv6 with two network stacks joined by an in-memory
// cable, which it may hand out as inet:a (10.0.0.1) and inet:b
// (10.0.0.2); the processes Run starts hold both.
func bootInet(t testing.TB) *rv6test.System {
	t.Helper()
	m := domain.NewManager()
	t.Cleanup(m.Close)
	a, b, err := netstacktest.StartPair(m)
	if err != nil {
		t.Fatal(err)
	}
	s := rv6test.Boot(t, rv6test.Options{DiskSize: 16 << 20, Manager: m,
		Grants: map[string]domain.Provider{"inet:a": a, "inet:b": b}})
	s.Caps = []string{"inet:a", "inet:b"}
	return s
}

// waitOutput waits (up to a minute) for the console output of p to
// contain want.
func waitOutput(t *testing.T, p *rv6test.Proc, want string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(p.Output(), want) {
		select {
		case <-p.Done():
			t.Fatalf("the process ended before it wrote %q:\n%s", want, p.Output())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in a minute:\n%s", want, p.Output())
		}
	}
}

func TestNcBothWays(t *testing.T) {
	s := bootInet(t)
	p := s.Start(t, "grant inet:b nc -l -d -v 7000 > /got &\n", "sh")
	waitOutput(t, p, "nc: listening on 10.0.0.2:7000")
	p.Type([]byte("echo hello over tcp | grant inet:a nc -v 10.0.0.2 7000\nwait\ncat /got\nexit\n"))
	p.Type(nil)
	out, st, err := p.Wait()
	t.Logf("%s", out)
	if err != nil || !st.Exited || st.Status != 0 {
		t.Fatalf("sh: %+v %v", st, err)
	}
	for _, want := range []string{"nc: connected to 10.0.0.2:7000", "nc: connected to 10.0.0.1:", "hello over tcp"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the output", want)
		}
	}
	if got := s.ReadFile(t, "/got"); got != "hello over tcp\n" {
		t.Errorf("the server received %q", got)
	}
}

func TestNcErrors(t *testing.T) {
	s := bootInet(t)
	s.Caps = nil
	if out, st := s.Run(t, "nc", "10.0.0.2", "7001"); st.Status != 1 || !strings.Contains(out, "capability not granted") {
		t.Errorf("nc without a granted stack: %+v:\n%s", st, out)
	}
	s.Caps = []string{"inet:a", "inet:b"}
	if out, st := s.Sh(t, "grant inet:a nc -w 5 10.0.0.2 7001"); st.Status != 1 || !strings.Contains(out, "connection refused") {
		t.Errorf("nc to a closed port: %+v:\n%s", st, out)
	}
	for _, args := range [][]string{{}, {"10.0.0.2"}, {"10.0.0.256", "7"}, {"10.0.0.2", "0"}, {"-l"}, {"-w", "x", "10.0.0.2", "7"}} {
		if out, st := s.Run(t, "nc", args...); st.Status != 2 {
			t.Errorf("nc %q: %+v, want a usage error:\n%s", args, st, out)
		}
	}
}

func TestPing(t *testing.T) {
	s := bootInet(t)
	out, st := s.Sh(t, "grant inet:a ping -c 2 10.0.0.2")
	if st.Status != 0 || !strings.Contains(out, "2 packets transmitted, 2 received") || !strings.Contains(out, "64 bytes from 10.0.0.2: icmp_seq=1") {
		t.Errorf("ping: %+v:\n%s", st, out)
	}
	out, st = s.Sh(t, "grant inet:b ping -c 1 -W 1 10.0.0.9")
	if st.Status != 1 || !strings.Contains(out, "1 packets transmitted, 0 received") {
		t.Errorf("ping of nobody: %+v:\n%s", st, out)
	}
	for _, args := range [][]string{{}, {"-c", "0", "10.0.0.2"}, {"-s", "2000", "10.0.0.2"}, {"host"}} {
		if out, st := s.Run(t, "ping", args...); st.Status != 2 {
			t.Errorf("ping %q: %+v, want a usage error:\n%s", args, st, out)
		}
	}
}
