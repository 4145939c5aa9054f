// Package loader is the kernel service that makes Rv6 processes into
// domains (idl.Loader): the Rv6 domain asks it to load a program for a
// process, and it creates a domain of the program's kind (registered by
// rv6/ulib.Register as "prog/NAME"), granted the process's syscalls and the
// capabilities Rv6 passed for it (Grant*: capabilities Rv6 holds, rebound
// for the new domain; the loader keeps no binding of its own), and hands
// back the capability to its idl.Program. Unload terminates the domain,
// which reclaims everything it held.
//
// It is trusted kernel code: it holds the Manager. Program domains are
// transient (domain.Transient): they leave the domain listing when they end,
// and their ends are not logged (the Rv6 domain reports them to the parent
// process).
package loader

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
)

// KindPrefix is the prefix of program kinds (rv6/ulib.KindPrefix).
const KindPrefix = "prog/"

// MaxPending is how many prepared domains a loader keeps before Start or
// Unload.
const MaxPending = 256

// A Loader creates program domains with one Manager.
type Loader struct {
	m *domain.Manager

	mu      sync.Mutex
	next    uint64
	pending map[uint64]*pending // prepared, not started
	live    map[uint64]*domain.Domain
}

// pending is a prepared domain: its program, name and grants.
type pending struct {
	prog, name string
	grants     []domain.CreateOption
	names      map[string]bool
}

// New returns a loader creating domains with m.
func New(m *domain.Manager) *Loader {
	return &Loader{m: m, pending: map[uint64]*pending{}, live: map[uint64]*domain.Domain{}}
}

// Programs lists the registered program names, sorted.
func Programs() []string {
	var out []string
	for _, k := range domain.Kinds() {
		if name, ok := strings.CutPrefix(k, KindPrefix); ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Prepare implements idl.Loader.
func (l *Loader) Prepare(prog, name string) (uint64, error) {
	if ok, _ := l.Has(prog); !ok {
		return 0, fmt.Errorf("%s: no such program", prog)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) >= MaxPending {
		return 0, fmt.Errorf("%s: %d domains prepared and not started: start or unload some", prog, len(l.pending))
	}
	l.next++
	l.pending[l.next] = &pending{prog: prog, name: name, names: map[string]bool{}}
	return l.next, nil
}

// GrantMonitor implements idl.Loader.
func (l *Loader) GrantMonitor(h uint64, name string, c idl.Monitor) error { return l.grant(h, name, c) }

// GrantNet implements idl.Loader.
func (l *Loader) GrantNet(h uint64, name string, c idl.Net) error { return l.grant(h, name, c) }

// GrantInet implements idl.Loader.
func (l *Loader) GrantInet(h uint64, name string, c idl.Inet) error { return l.grant(h, name, c) }

// GrantPort implements idl.Loader.
func (l *Loader) GrantPort(h uint64, name string, c idl.Port) error { return l.grant(h, name, c) }

// GrantBlock implements idl.Loader.
func (l *Loader) GrantBlock(h uint64, name string, c idl.BlockDevice) error {
	return l.grant(h, name, c)
}

// grant adds c, the caller's capability as the proxy rebound it for the
// loader, to the grants of the prepared domain h under name. The loader's
// own binding is only the way it came: it is revoked whatever happens.
func (l *Loader) grant(h uint64, name string, c any) error {
	cp, ok := c.(domain.Capability)
	if !ok || c == nil {
		return fmt.Errorf("loader: granting %q: not a capability", name)
	}
	defer cp.Revoke()
	if name == "" || name == "sys" || strings.ContainsRune(name, 0) {
		return fmt.Errorf("loader: granting %q: not a name a capability can be granted under", name)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.pending[h]
	if p == nil {
		return fmt.Errorf("loader: granting %q: no prepared program domain %d", name, h)
	}
	if p.names[name] {
		return fmt.Errorf("loader: granting %q to %s twice", name, p.name)
	}
	p.names[name] = true
	p.grants = append(p.grants, domain.Grant(name, cp.Target()))
	return nil
}

// Start implements idl.Loader.
func (l *Loader) Start(h uint64, sys idl.Sys) (idl.Program, error) {
	l.mu.Lock()
	p := l.pending[h]
	delete(l.pending, h)
	l.mu.Unlock()
	c, ok := sys.(domain.Capability)
	if ok && sys != nil {
		// The kernel's own binding to the process's syscalls is only
		// the way they reached it: drop it, or every spawn would leave
		// one more crossing in the Rv6 domain's list for good.
		defer c.Revoke()
	}
	if p == nil {
		return nil, fmt.Errorf("loader: no prepared program domain %d", h)
	}
	if !ok || sys == nil {
		return nil, fmt.Errorf("%s: the syscalls given are not a capability", p.prog)
	}
	opts := append([]domain.CreateOption{domain.Name(p.name), domain.Transient(), domain.Grant("sys", c.Target())}, p.grants...)
	d, err := l.m.Create(KindPrefix+p.prog, opts...)
	if err != nil {
		if d != nil {
			l.m.Kill(d)
		}
		return nil, fmt.Errorf("%s: starting its domain: %w", p.prog, err)
	}
	prog, err := domain.Connect[idl.Program](l.m.Kernel(), d)
	if err != nil {
		l.m.Kill(d)
		return nil, fmt.Errorf("%s: connecting to its domain: %w", p.prog, err)
	}
	l.mu.Lock()
	l.live[h] = d
	l.mu.Unlock()
	return prog, nil
}

// Unload implements idl.Loader.
func (l *Loader) Unload(h uint64) error {
	l.mu.Lock()
	d := l.live[h]
	_, prepared := l.pending[h]
	delete(l.live, h)
	delete(l.pending, h)
	l.mu.Unlock()
	if prepared {
		return nil
	}
	if d == nil {
		return fmt.Errorf("loader: no program domain %d", h)
	}
	l.m.Kill(d)
	return nil
}

// Has implements idl.Loader.
func (l *Loader) Has(prog string) (bool, error) {
	if prog == "" || strings.ContainsAny(prog, "/\x00") {
		return false, nil
	}
	return domain.Registered(KindPrefix + prog), nil
}

// DomainID implements idl.Loader.
func (l *Loader) DomainID(h uint64) (uint32, error) {
	l.mu.Lock()
	d := l.live[h]
	l.mu.Unlock()
	if d == nil {
		return 0, fmt.Errorf("loader: no program domain %d", h)
	}
	return uint32(d.ID()), nil
}

// Live is how many program domains are loaded.
func (l *Loader) Live() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.live)
}
