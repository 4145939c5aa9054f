// Package faults is the kernel's fault injector: a kernel object that makes
// a named domain fail for real, on its own thread, at its next call, so that
// a person (the shell's inject command) or a test can watch isolation and
// recovery happen.
//
// Two halves:
//
//   - The kernel side, Injector: Arm(domain, kind) arms one fault for the
//     next call into the domain of that name (whichever instance of it runs
//     then: names survive restarts).
//   - The domain side, Device: the kernel grants it to a domain
//     (domain.GrantDevice(faults.Grant, inj.Device())); the domain gets it
//     with From and calls Point at the entry of each of its IDL methods. If
//     a fault is armed for the domain, Point disarms it and commits it right
//     there, on the domain's thread: a real nil dereference, a real index out
//     of range, a real integer division by zero, an explicit panic, or a loop
//     that never returns while the domain lives. The proxy the call came in
//     through turns the panic into the domain's failure, as it would a bug.
//
// Domains import this package for Device, From and Grant (it is on the
// domain import allowlist of vet). What a domain can reach from it is
// only what it was granted: the value Device returns has no method but
// Point, so a domain cannot arm faults, in itself or in anyone else; an
// Injector a domain made for itself is armed by nobody.
package faults

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rlgo/redleaf/kernel/domain"
)

// Grant is the name a domain is granted its Device under.
const Grant = "faults"

// Fault kinds.
const (
	Panic   = "panic"   // an explicit panic
	NilPtr  = "nilptr"  // a nil pointer dereference (runtime error)
	Index   = "index"   // an index out of range (runtime error)
	DivZero = "divzero" // an integer division by zero (runtime error)
	Loop    = "loop"    // spin until the domain is dead (needs a deadline to end)
)

// Kinds returns the fault kinds, in the order the shell lists them.
func Kinds() []string { return []string{Panic, NilPtr, Index, DivZero, Loop} }

// IsKind reports whether kind is a fault kind.
func IsKind(kind string) bool { return slices.Contains(Kinds(), kind) }

// Device is the domain side of the injector: what a domain is granted.
type Device interface {
	// Point is a fault point: a domain calls it at the entry of each of its
	// IDL methods with its own Context. If a fault is armed for the
	// domain, Point disarms it and commits it on the calling thread; a
	// loop fault returns only by unwinding, once the domain is dead.
	Point(ctx *domain.Context)
}

// From returns the Device the domain of ctx was granted under Grant, or, if
// it was granted none, a Device whose Point does nothing: domains call
// Point unconditionally.
func From(ctx *domain.Context) Device {
	if d, err := domain.Device[Device](ctx, Grant); err == nil && d != nil {
		return d
	}
	return none{}
}

type none struct{}

func (none) Point(*domain.Context) {}

// An Injector arms faults by domain name. It is kernel code; domains only
// ever hold what Device returns. It is safe for concurrent use.
type Injector struct {
	mu    sync.Mutex
	armed map[string]string // domain name -> kind; guarded by mu
	fired map[string]int    // domain name -> faults committed; guarded by mu

	sink atomic.Int64 // where the faulting expressions' results go, so they are computed
}

// New returns an injector with nothing armed.
func New() *Injector {
	return &Injector{armed: map[string]string{}, fired: map[string]int{}}
}

// Arm arms fault kind for the next fault point the domain named name
// reaches (its next call). It replaces a fault armed for name before.
func (inj *Injector) Arm(name, kind string) error {
	if !IsKind(kind) {
		return fmt.Errorf("faults: unknown fault kind %q (want one of %s)", kind, strings.Join(Kinds(), ", "))
	}
	if name == "" {
		return fmt.Errorf("faults: no domain name")
	}
	inj.mu.Lock()
	defer inj.mu.Unlock()
	inj.armed[name] = kind
	return nil
}

// Disarm removes the fault armed for name, and reports whether there was one.
func (inj *Injector) Disarm(name string) bool {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	_, ok := inj.armed[name]
	delete(inj.armed, name)
	return ok
}

// Pending returns the kind of the fault armed for name, or "".
func (inj *Injector) Pending(name string) string {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	return inj.armed[name]
}

// Armed returns the names that have a fault armed, sorted.
func (inj *Injector) Armed() []string {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	names := make([]string, 0, len(inj.armed))
	for n := range inj.armed {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Fired returns how many faults the domain named name committed.
func (inj *Injector) Fired(name string) int {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	return inj.fired[name]
}

// Device returns the domain side of inj, to grant under Grant. It has only
// the Point method: the domain holding it cannot arm anything.
func (inj *Injector) Device() Device { return &device{inj} }

// take disarms and returns the fault armed for name, counting it.
func (inj *Injector) take(name string) string {
	inj.mu.Lock()
	defer inj.mu.Unlock()
	kind, ok := inj.armed[name]
	if !ok {
		return ""
	}
	delete(inj.armed, name)
	inj.fired[name]++
	return kind
}

// device is what domains are granted. It is a separate type from Injector
// so that no type assertion gets a domain to Arm.
type device struct{ inj *Injector }

// Point implements Device.
func (d *device) Point(ctx *domain.Context) {
	ctx.Check() // a thread of a dead instance goes no further
	if kind := d.inj.take(ctx.Name()); kind != "" {
		d.inj.commit(ctx, kind)
	}
}

// target is what the nil-pointer fault dereferences.
type target struct{ n int64 }

// commit commits fault kind on the calling thread, the domain's. Every
// fault is the real thing, not a panic that imitates it: the runtime
// raises the runtime.Error, with its usual message and stack. The operands
// come from ctx so that the compiler cannot prove the fault at build time
// (it would reject a constant index out of range or division by zero), and
// the results go to inj.sink so that the faulting expression is computed.
func (inj *Injector) commit(ctx *domain.Context, kind string) {
	id := int64(ctx.ID())
	switch kind {
	case Panic:
		panic(fmt.Sprintf("injected panic in %s (#%d)", ctx.Name(), id))
	case NilPtr:
		var p *target
		if id < 0 { // never: ids are positive; keeps p's nil-ness out of the compiler's sight
			p = &target{}
		}
		inj.sink.Store(p.n)
	case Index:
		table := make([]int64, 4)
		//lint:ignore SA4028 the index must not be a constant the compiler sees
		i := len(table) + int(id%1)
		inj.sink.Store(table[i])
	case DivZero:
		//lint:ignore SA4000 the divisor must not be a constant the compiler sees
		zero := id - id
		inj.sink.Store(id / zero)
	case Loop:
		// Spin until the domain is dead, making a kernel call on every
		// turn. Go cannot stop a goroutine from outside: a bare `for {}`
		// would spin forever, burning a CPU, after the deadline had failed
		// the domain or the kernel had killed it (counted in the manager's
		// Stats.Stuck or Stats.Lingering for as long as the system runs).
		// ctx.Check is a kernel call: once the domain is dead it panics with
		// the domain's private unwinding, which the crossing the thread came
		// in through recovers, so the thread stops at the next turn and the
		// kernel gets its worker back.
		for n := int64(0); ; n++ {
			ctx.Check()
			inj.sink.Store(n)
		}
	}
}
