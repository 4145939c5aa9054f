//rl:domain // want package:"domain"

// Package register registers its kind outside its init function, and from
// init with state every instance would share (review items 6 and 11).
package register

import "github.com/rlgo/redleaf/kernel/domain"

type svc struct{ events chan int }

func newSvc(*domain.Context) (*svc, error) { return &svc{}, nil }

func init() {
	domain.Register("register", newSvc) // fine: a declared constructor, at init
	events := make(chan int, 1)
	domain.Register("shared", func(*domain.Context) (*svc, error) {
		return &svc{events: events}, nil // want `^global: the constructor given to domain.Register captures events, a local variable of init`
	})
	func() {
		domain.Register("late", newSvc) // want `^api: domain.Register registers a domain kind: call it in the package's init function, not in a function literal`
	}()
	kind("helper") // fine: a registering function, called at init
}

// kind registers for its callers, who must call it from init.
func kind(name string) { // want kind:"registers"
	domain.Register(name, newSvc)
}

// Later registers a kind at run time, from a method (an IDL method the
// kernel calls through an interface, whose callers the checker cannot see).
func (s *svc) Later() {
	domain.Register("runtime", newSvc) // want `^api: domain.Register registers a domain kind: call it from the package's init function only`
	kind("runtime2")                   // want `^api: register.kind registers a domain kind: call it from the package's init function only`
}

// Value takes the function's value, which could be called at any time.
func Value() {
	r := domain.Register[*svc] // want `^api: domain.Register registers a domain kind: call it \(not take its value\)`
	r("value", newSvc)
	k := kind // want `^api: register.kind registers a domain kind: call it \(not take its value\)`
	k("value")
}

// Exported registers: only its callers' init functions may call it.
func Exported() { kind("exported") } // want Exported:"registers"

var _ = registerAtInit() // want `^api: register.registerAtInit registers a domain kind: call it from the package.s init function only`

func registerAtInit() bool { // want registerAtInit:"registers"
	kind("var") // fine here: registerAtInit registers, so its callers are checked
	return true
}
