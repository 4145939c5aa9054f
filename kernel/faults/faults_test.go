package faults_test

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/faults"
	"github.com/rlgo/redleaf/services/null"
)

func newManager(t *testing.T) *domain.Manager {
	m := domain.NewManager()
	t.Cleanup(m.Close)
	return m
}

// start creates a null domain named name, granted inj's device (if inj is
// not nil), and connects the kernel to it with a deadline.
func start(t *testing.T, m *domain.Manager, name string, inj *faults.Injector) (*domain.Domain, idl.Bench) {
	t.Helper()
	opts := []domain.CreateOption{domain.Name(name)}
	if inj != nil {
		opts = append(opts, domain.GrantDevice(faults.Grant, inj.Device()))
	}
	d, err := m.Create(null.Kind, opts...)
	if err != nil {
		t.Fatal(err)
	}
	p, err := domain.Connect[idl.Bench](m.Kernel(), d, domain.Deadline(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return d, p
}

func failure(t *testing.T, err error) *domain.FailedError {
	t.Helper()
	var f *domain.FailedError
	if !errors.As(err, &f) {
		t.Fatalf("error %v (%T), want a *domain.FailedError", err, err)
	}
	return f
}

func TestArm(t *testing.T) {
	inj := faults.New()
	if err := inj.Arm("a", "boom"); err == nil {
		t.Error("Arm accepted an unknown kind")
	}
	if err := inj.Arm("", faults.Panic); err == nil {
		t.Error("Arm accepted an empty name")
	}
	for _, k := range faults.Kinds() {
		if !faults.IsKind(k) {
			t.Errorf("IsKind(%q) = false", k)
		}
	}
	if err := inj.Arm("a", faults.Panic); err != nil {
		t.Fatal(err)
	}
	if err := inj.Arm("a", faults.Index); err != nil { // replaces
		t.Fatal(err)
	}
	if got := inj.Pending("a"); got != faults.Index {
		t.Errorf("Pending = %q", got)
	}
	if got := inj.Armed(); len(got) != 1 || got[0] != "a" {
		t.Errorf("Armed = %q", got)
	}
	if !inj.Disarm("a") || inj.Disarm("a") || inj.Pending("a") != "" {
		t.Error("Disarm")
	}
}

// The device a domain is granted has Point and nothing else: no type
// assertion gets a domain to Arm.
func TestDeviceCannotArm(t *testing.T) {
	dev := faults.New().Device()
	if _, ok := dev.(interface{ Arm(string, string) error }); ok {
		t.Error("the granted device has Arm")
	}
	if _, ok := any(dev).(*faults.Injector); ok {
		t.Error("the granted device is the injector")
	}
}

// Each kind is committed for real on the domain's thread, in the call that
// reached the point: the proxy turns it into the domain's failure.
func TestKinds(t *testing.T) {
	want := map[string]string{
		faults.Panic:   "injected panic in k-panic",
		faults.NilPtr:  "invalid memory address or nil pointer dereference",
		faults.Index:   "index out of range",
		faults.DivZero: "integer divide by zero",
	}
	m := newManager(t)
	inj := faults.New()
	for kind, msg := range want {
		t.Run(kind, func(t *testing.T) {
			name := "k-" + kind
			d, p := start(t, m, name, inj)
			if err := p.Null(); err != nil {
				t.Fatalf("before arming: %v", err)
			}
			if err := inj.Arm(name, kind); err != nil {
				t.Fatal(err)
			}
			f := failure(t, p.Null())
			if f.ID != d.ID() || !strings.Contains(f.Error(), msg) {
				t.Errorf("failure %v, want one of #%d saying %q", f, d.ID(), msg)
			}
			var re runtime.Error
			if isRuntime := errors.As(f, &re); isRuntime != (kind != faults.Panic) {
				t.Errorf("runtime.Error: %v (%v)", isRuntime, f.Value)
			}
			// The fault happened in the domain's method, on the thread
			// that called into it.
			if !strings.Contains(string(f.Stack), "services/null.(*Null).Null") {
				t.Errorf("the fault's stack does not go through the domain:\n%s", f.Stack)
			}
			if d.State() != domain.Failed || inj.Pending(name) != "" || inj.Fired(name) != 1 {
				t.Errorf("state %v, pending %q, fired %d", d.State(), inj.Pending(name), inj.Fired(name))
			}
		})
	}
}

// A fault is armed by name: only that domain's next call fires it, once,
// and an instance re-created under the name inherits what was armed.
func TestArmedByName(t *testing.T) {
	m := newManager(t)
	inj := faults.New()
	a, pa := start(t, m, "a", inj)
	_, pb := start(t, m, "b", inj)
	if err := inj.Arm("a", faults.Panic); err != nil {
		t.Fatal(err)
	}
	if err := pb.Null(); err != nil {
		t.Fatalf("b: %v", err)
	}
	failure(t, pa.Null())
	a2, err := m.Restart(a, "test")
	if err != nil {
		t.Fatal(err)
	}
	pa2, err := domain.Connect[idl.Bench](m.Kernel(), a2)
	if err != nil {
		t.Fatal(err)
	}
	if err := pa2.Null(); err != nil {
		t.Fatalf("a fault fired twice: %v", err)
	}
	inj.Arm("a", faults.DivZero)
	if f := failure(t, pa2.Null()); f.ID != a2.ID() {
		t.Errorf("the new instance did not fire the fault armed for its name: %v", f)
	}
	if inj.Fired("a") != 2 || inj.Fired("b") != 0 {
		t.Errorf("fired a %d, b %d", inj.Fired("a"), inj.Fired("b"))
	}
}

// A domain granted no injector gets one that never fires.
func TestFromWithoutGrant(t *testing.T) {
	m := newManager(t)
	inj := faults.New()
	_, p := start(t, m, "plain", nil)
	inj.Arm("plain", faults.Panic) // not its injector
	for range 3 {
		if err := p.Null(); err != nil {
			t.Fatal(err)
		}
	}
}

// A loop fault spins until the deadline fails the domain, and then the
// spinning thread stops at its next kernel check: the worker the call ran on
// is not left stuck.
func TestLoopStopsAtDeadline(t *testing.T) {
	m := newManager(t)
	inj := faults.New()
	d, err := m.Create(null.Kind, domain.Name("spin"), domain.GrantDevice(faults.Grant, inj.Device()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := domain.Connect[idl.Bench](m.Kernel(), d, domain.Deadline(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	inj.Arm("spin", faults.Loop)
	start := time.Now()
	f := failure(t, p.Null())
	var de *domain.DeadlineError
	if !errors.As(f, &de) || f.ID != d.ID() {
		t.Fatalf("failure %v, want a deadline failure of #%d", f, d.ID())
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("the deadline took %v", el)
	}
	deadline := time.Now().Add(10 * time.Second)
	for m.Stats().Stuck != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the looping worker is still stuck: %+v", m.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The loop unwinds at its next check once the domain is dead, within
	// the grace the caller waits after the deadline: no worker is
	// abandoned (one, on a machine stalled past the grace).
	if s := m.Stats(); s.StuckTotal > 1 {
		t.Errorf("stats %+v", s)
	}
}

// A loop fault in a domain the kernel kills stops too.
func TestLoopStopsWhenKilled(t *testing.T) {
	m := newManager(t)
	inj := faults.New()
	d, p := start(t, m, "spin2", inj) // 2 s deadline: the kill comes first
	inj.Arm("spin2", faults.Loop)
	done := make(chan error, 1)
	go func() { done <- p.Null() }()
	time.Sleep(50 * time.Millisecond)
	m.Kill(d)
	select {
	case err := <-done:
		if f := failure(t, err); !errors.Is(f, domain.ErrTerminated) {
			t.Errorf("failure %v", f)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call did not return after the kill")
	}
	deadline := time.Now().Add(10 * time.Second)
	for m.Stats().Stuck != 0 || m.Stats().Lingering != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the looping thread did not stop: %+v", m.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
