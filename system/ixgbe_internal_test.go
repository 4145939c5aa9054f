package system

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/rlgo/redleaf/drivers/ixgbe/model"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/system/sh"
)

// startIxgbeSystem starts a system whose ixgbe ports (the model's: a test
// has no PCI bus) are forgotten with it.
func startIxgbeSystem(t *testing.T) (*System, *syncBuffer) {
	t.Helper()
	log := &syncBuffer{}
	s, err := Start(Options{DiskSize: 1 << 20, Logf: func(f string, a ...any) { log.Printf(f+"\n", a...) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, log
}

// syncBuffer is a buffer written from several threads (the log, a command
// running beside the test).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) Printf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.WriteString(strings.TrimSpace(fmt.Sprintf(format, args...)) + "\n")
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// run runs one command line in a shell with the system's commands.
func run(s *System, line string) (int, string) {
	r := sh.Builtins()
	s.Register(r)
	var out syncBuffer
	return sh.Eval(sh.NewHost(sh.HostOptions{Registry: r, Stdout: &out}), line), out.String()
}

// The ports start on the first command that needs them, not at boot; once
// started they are services like the others (domains, inject, restart).
func TestIxgbeLazy(t *testing.T) {
	s, log := startIxgbeSystem(t)
	if d := s.m.Lookup("ixgbe0"); d != nil {
		t.Fatalf("ixgbe0 started at boot: %v", d)
	}
	var out bytes.Buffer
	if err := s.writeIxgbeIfconfig(&out); err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{
		`(?m)^ixgbe0: 82599 model \(8086:10fb\) 02:1b:21:0a:0b:00 link up, 10000 Mbit/s, promiscuous; instance #\d+, restarts 0$`,
		`(?m)^ixgbe1: 82599 model \(8086:10fb\) 02:1b:21:0a:0b:01 link up`,
		`(?m)^  rx 0 packets, 0 bytes, 0 errors, 0 missed$`,
	} {
		if !regexp.MustCompile(re).MatchString(out.String()) {
			t.Errorf("ifconfig lacks %s:\n%s", re, out.String())
		}
	}
	if !strings.Contains(log.String(), "ixgbe0: no 82599 on the machine: domain ixgbe0 (shadowed) over the 82599 model") {
		t.Errorf("log:\n%s", log)
	}
	st, dom := run(s, "domains")
	if st != 0 || !regexp.MustCompile(`(?m)^ixgbe1 +\d+ +ixgbe +running +yes `).MatchString(dom) {
		t.Errorf("domains: %d\n%s", st, dom)
	}
	if st, out := run(s, "restart ixgbe1"); st != 0 {
		t.Errorf("restart: %d\n%s", st, out)
	}
	// The new instance runs promiscuous: the shadow replayed SetPromisc.
	p, err := s.ixgbePort("ixgbe1")
	if err != nil {
		t.Fatal(err)
	}
	if v := p.model.Peek(model.FCTRL); v&(1<<8|1<<9) != 1<<8|1<<9 {
		t.Errorf("FCTRL %#x after the restart: promiscuous mode not replayed", v)
	}
}

// The kernel's control of a port, which Rv6's network programs hold
// (nic:NAME.ctl): Generate has the model deliver frames of a size and
// stop; Loopback restarts the driver in MAC loopback through its shadow
// and back, its configuration replayed each time, and one switch at a
// time. The programs' own tests (rv6/progs/all) drive the ports through it.
func TestPortControl(t *testing.T) {
	s, _ := startIxgbeSystem(t)
	port, err := s.ixgbePort("ixgbe0")
	if err != nil {
		t.Fatal(err)
	}
	c := &portControl{s: s, port: port}
	in, err := c.Info()
	if err != nil || in.Name != "ixgbe0" || in.Where != "82599 model (8086:10fb)" || !in.Model || in.Restarts != 0 || in.Delivered != 0 {
		t.Fatalf("Info: %+v, %v", in, err)
	}

	if err := c.Generate(100); err != nil {
		t.Fatal(err)
	}
	heap := s.m.Kernel().Heap()
	q := rref.NewDeque[idl.Packet](heap, 8)
	for range 8 {
		q.PushBack(rref.New(heap, idl.Packet{}))
	}
	defer func() { rref.DiscardDeque(q) }()
	q, n, err := port.ctl.RxBatch(0, q)
	if err != nil || n != 8 {
		t.Fatalf("RxBatch after Generate(100): %d packets, %v", n, err)
	}
	if r, _ := q.PopFront(); r.Get().Len != 100 {
		t.Errorf("generated a %d-byte frame, want 100", r.Get().Len)
	} else {
		q.PushBack(r)
	}
	if err := c.Generate(0); err != nil {
		t.Fatal(err)
	}
	delivered := port.wire().delivered
	for range 3 { // empty the ring: nothing more arrives
		for range q.Len() {
			r, _ := q.PopFront()
			r.Get().Len = 0
			q.PushBack(r)
		}
		if q, _, err = port.ctl.RxBatch(0, q); err != nil {
			t.Fatal(err)
		}
	}
	if in, _ := c.Info(); in.Delivered != delivered || delivered == 0 {
		t.Errorf("the model delivered %d frames, %d after Generate(0)", delivered, in.Delivered)
	}
	for _, size := range []int32{59, 1515} {
		if err := c.Generate(size); err == nil || !strings.Contains(err.Error(), "want 60..1514") {
			t.Errorf("Generate(%d): %v", size, err)
		}
	}
	real := &portControl{s: s, port: &ixgbePort{name: "ixgbe7", where: "0000:03:00.0 (8086:10fb, 82599ES)"}}
	if err := real.Generate(60); err == nil || !strings.Contains(err.Error(), "ixgbe7 is 0000:03:00.0 (8086:10fb, 82599ES): its traffic is the wire's") {
		t.Errorf("Generate on a real port: %v", err)
	}

	lpbk := func() bool { return port.model.Peek(model.HLREG0)&(1<<15) != 0 }
	for i, on := range []bool{true, false} {
		old := port.guard.Current().ID()
		in, err := c.Loopback(on)
		if err != nil {
			t.Fatalf("Loopback(%v): %v", on, err)
		}
		if in.Instance == uint32(old) || in.Restarts != int32(i+1) || in.LastRestart != "config replayed" {
			t.Errorf("Loopback(%v): %+v, want a new instance (not #%d), restarts %d, config replayed", on, in, old, i+1)
		}
		if port.mode.Loopback() != on || lpbk() != on {
			t.Errorf("Loopback(%v): switch %v, HLREG0.LPBK %v", on, port.mode.Loopback(), lpbk())
		}
		if v := port.model.Peek(model.FCTRL); v&(1<<8|1<<9) != 1<<8|1<<9 {
			t.Errorf("Loopback(%v): FCTRL %#x: promiscuous mode not replayed", on, v)
		}
	}
	loopbackMu.Lock()
	_, err = c.Loopback(true)
	loopbackMu.Unlock()
	if err == nil || !strings.Contains(err.Error(), "another nictest is switching the ports") || port.mode.Loopback() {
		t.Errorf("Loopback while another switch runs: %v (loopback %v)", err, port.mode.Loopback())
	}
}
