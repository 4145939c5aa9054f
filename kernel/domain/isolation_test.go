package domain_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/internal/testdomains/nullbench"
	"github.com/rlgo/redleaf/internal/testdomains/stage"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// idlInterfaces are the interfaces of package idl.
var idlInterfaces = []reflect.Type{
	reflect.TypeFor[idl.Bench](), reflect.TypeFor[idl.BlockDevice](), reflect.TypeFor[idl.Stage](),
}

// trusted is where the walk stops: kernel objects may point anywhere.
func trusted(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	p := t.PkgPath()
	return strings.HasPrefix(p, "github.com/rlgo/redleaf/kernel/domain") && !strings.Contains(p, "testdomains") ||
		strings.HasPrefix(p, "github.com/rlgo/redleaf/kernel/shadow") ||
		strings.HasPrefix(p, "github.com/rlgo/redleaf/kernel/rref") ||
		p == "sync" || p == "sync/atomic"
}

// walkCapabilities visits every interface value reachable from v that holds
// an IDL interface implementation, without entering kernel objects or
// capabilities, and reports each with its path.
func walkCapabilities(v reflect.Value, path string, seen map[uintptr]bool, visit func(path string, dyn reflect.Type, iface reflect.Type)) {
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		dyn := v.Elem().Type()
		for _, it := range idlInterfaces {
			if dyn.Implements(it) {
				visit(path, dyn, it)
				if domain.IsGenerated(dyn, it) {
					return // a capability: what it holds is the kernel's business
				}
			}
		}
		walkCapabilities(v.Elem(), path, seen, visit)
	case reflect.Pointer:
		if v.IsNil() || trusted(v.Type()) || seen[v.Pointer()] {
			return
		}
		seen[v.Pointer()] = true
		walkCapabilities(v.Elem(), path, seen, visit)
	case reflect.Struct:
		if trusted(v.Type()) {
			return
		}
		for i := range v.NumField() {
			walkCapabilities(v.Field(i), path+"."+v.Type().Field(i).Name, seen, visit)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walkCapabilities(v.Index(i), path+"[]", seen, visit)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			walkCapabilities(v.MapIndex(k), path+"[k]", seen, visit)
		}
	}
}

// forged pretends to be a capability: a domain's own type with the methods
// of one.
type forged struct{ stage.Stage }

func (*forged) Target() domain.Provider { return nil }
func (*forged) Revoke()                 {}

// TestNoDirectCrossDomainCall builds a chain of domains wired by grants, a
// shadow, a capability passed in a call, and a forged capability, then walks
// everything each domain holds: every interface value that could reach
// another domain's code is a generated proxy or shadow bound to that domain.
func TestNoDirectCrossDomainCall(t *testing.T) {
	m := newManager(t)
	inj := newInjector()
	c := create(t, m, stage.Kind, domain.Name("C"))
	g, err := shadow.New(m, c, shadow.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	b := create(t, m, stage.Kind, domain.Name("B"), domain.Grant(stage.GrantNext, g), domain.GrantDevice(stage.GrantFaults, stage.Injector(inj)))
	a := create(t, m, stage.Kind, domain.Name("A"), domain.Grant(stage.GrantNext, b, domain.Deadline(time.Second)))
	d := create(t, m, stage.Kind, domain.Name("D"))

	// The kernel's own capabilities are generated types.
	top := connect[idl.Stage](t, m, a)
	toC := connect[idl.Stage](t, m, g)
	for _, v := range []any{top, toC} {
		if !domain.IsGenerated(reflect.TypeOf(v), idlInterfaces[2]) {
			t.Errorf("the kernel got a %T", v)
		}
	}
	// A capability passed in a call: D gets its own binding to C's shadow.
	toD := connect[idl.Stage](t, m, d)
	if err := toD.Link(toC); err != nil {
		t.Fatal(err)
	}
	// A forged capability passed in a call: D must get a proxy to the
	// kernel's object, not the object.
	fake := &forged{}
	dd := create(t, m, stage.Kind, domain.Name("E"))
	if err := connect[idl.Stage](t, m, dd).Link(fake); err != nil {
		t.Fatal(err)
	}
	if rep, err := top.Handle(idl.Request{Seq: 1}); err != nil || rep.Hops != 3 {
		t.Fatalf("chain: %v %v", rep, err)
	}

	seen := 0
	for _, dom := range []*domain.Domain{a, b, c, d, dd} {
		impl := domain.ImplOf(dom)
		walkCapabilities(reflect.ValueOf(&impl).Elem(), dom.Name(), map[uintptr]bool{}, func(path string, dyn, it reflect.Type) {
			seen++
			if !domain.IsGenerated(dyn, it) {
				// The domain's own implementation is fine at the root.
				if path == dom.Name() {
					return
				}
				t.Errorf("%s holds a %v as %v: a direct reference, not a capability", path, dyn, it)
			}
		})
		for _, v := range dom.Imports() {
			if !domain.IsGenerated(reflect.TypeOf(v), idlInterfaces[2]) {
				t.Errorf("%s imported a %T", dom.Name(), v)
			}
		}
	}
	if seen < 5+3 { // the roots, and A's, B's, D's and E's next
		t.Errorf("the walk saw %d interface values: it does not see what it should", seen)
	}
	// The passed capabilities are new bindings, for their receivers.
	if next := domain.ImplOf(d).(*stage.Stage).Next(); next == toC || !domain.IsGenerated(reflect.TypeOf(next), idlInterfaces[2]) {
		t.Errorf("D holds %T (the kernel's own capability: %v)", next, next == toC)
	}
	if next := domain.ImplOf(dd).(*stage.Stage).Next(); next == idl.Stage(fake) {
		t.Error("E holds the forged capability itself")
	}
}

// TestZeroAllocations: a proxied call allocates nothing, with an RRef, a
// borrow or a batch, through a shadow, and with a deadline (frames are
// pooled).
func TestZeroAllocations(t *testing.T) {
	m := newManager(t)
	d := create(t, m, nullbench.Kind)
	heap := m.Kernel().Heap()
	p := connect[idl.Bench](t, m, d)
	g, err := shadow.New(m, d, shadow.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	s := connect[idl.Bench](t, m, g)
	dl := connect[idl.Bench](t, m, d, domain.Deadline(time.Minute))
	r := rref.New(heap, idl.Block{})
	for _, c := range []struct {
		name string
		f    func()
		max  float64
	}{
		{"proxy", func() { p.Null() }, 0},
		{"proxy-rref", func() { r, _ = p.Echo(r) }, 0},
		{"proxy-borrow", func() { p.Peek(r.Borrow(), 0) }, 0},
		{"shadow", func() { s.Null() }, 0},
		{"shadow-rref", func() { r, _ = s.Echo(r) }, 0},
		{"proxy-deadline", func() { dl.Null() }, 0},
	} {
		if c.name == "proxy-deadline" && raceEnabled {
			c.max = 1 // see raceEnabled
		}
		if n := testing.AllocsPerRun(200, c.f); n > c.max {
			t.Errorf("%s: %v allocations per call", c.name, n)
		}
	}
}
