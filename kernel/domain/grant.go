package domain

import (
	"fmt"
	"time"

	"github.com/rlgo/redleaf/kernel/rref"
)

// A CreateOption configures a domain instance: its name and what it is
// granted. An instance gets its capabilities only through grants.
type CreateOption func(*createConfig)

// createConfig is what an instance was created with; Restart creates the
// next instance of the name from it.
type createConfig struct {
	name    string
	grants  map[string]grant
	devices map[string]any
	rrefs   map[string]func(from, to *rref.Account) any // taken once, by the first instance
	// transient: a short-lived instance (an Rv6 process): its creation
	// and end are recorded but not logged, and it leaves the listing once
	// it is dead.
	transient bool
	// startDeadline bounds the constructor (0: none).
	startDeadline time.Duration
}

type grant struct {
	p    Provider
	opts []BindOption
}

// Name names the instance (default: the kind's name, or kind.ID if that is
// taken by a live instance). Names are unique among live instances and kept
// across restarts.
func Name(name string) CreateOption {
	return func(c *createConfig) { c.name = name }
}

// Transient marks a short-lived instance, such as the domain of an Rv6
// process: its creation and its end are recorded as events but not logged
// (whoever created it reports how it ended), and once dead it leaves the
// listing (Lookup and List no longer return it), so that thousands of them
// do not pile up.
func Transient() CreateOption {
	return func(c *createConfig) { c.transient = true }
}

// StartDeadline bounds the instance's constructor, and its restarts': the
// constructor runs on a kernel worker, and if it has not returned within d
// the instance fails with a *DeadlineError (Create returns it dead). d <= 0
// means no deadline (the constructor runs on the calling goroutine).
func StartDeadline(d time.Duration) CreateOption {
	return func(c *createConfig) { c.startDeadline = d }
}

// Grant lets the instance Import a capability, under name, to p: a *Domain
// or a shadow guard. Each Import binds a new proxy with opts (for example a
// Deadline).
func Grant(name string, p Provider, opts ...BindOption) CreateOption {
	return func(c *createConfig) {
		if c.grants == nil {
			c.grants = make(map[string]grant)
		}
		c.grants[name] = grant{p, opts}
	}
}

// GrantDevice lets the instance get dev, a kernel object (a device, a
// buffer pool, a fault injector), under name with Device. If dev has a
// Reset() method, the kernel calls it when the instance dies.
func GrantDevice(name string, dev any) CreateOption {
	return func(c *createConfig) {
		if c.devices == nil {
			c.devices = make(map[string]any)
		}
		c.devices[name] = dev
	}
}

// GrantRRef moves r, owned by the kernel (Manager.Kernel().Heap()), to the
// instance, which takes it with TakeRRef. The RRef goes to the first
// instance only: restarted instances do not get it again.
func GrantRRef[T any](name string, r rref.RRef[T]) CreateOption {
	return func(c *createConfig) {
		if c.rrefs == nil {
			c.rrefs = make(map[string]func(from, to *rref.Account) any)
		}
		c.rrefs[name] = func(from, to *rref.Account) any { return rref.Move(r, from, to) }
	}
}

// forRestart is c without its one-shot RRef grants.
func (c *createConfig) forRestart() *createConfig {
	n := *c
	n.rrefs = nil
	return &n
}

// resetDevices calls Reset on the granted devices that have one. A device
// whose Reset panics is logged, not allowed to take down whoever happened to
// end the domain.
func (c *createConfig) resetDevices(logf func(string, ...any)) {
	for name, dev := range c.devices {
		if r, ok := dev.(interface{ Reset() }); ok {
			func() {
				defer func() {
					if v := recover(); v != nil {
						logf("device %s: Reset panicked: %s", name, describe(v, 0))
					}
				}()
				r.Reset()
			}()
		}
	}
}

func noGrant(what, name string) error {
	return fmt.Errorf("%w: %s %q", ErrNoGrant, what, name)
}
