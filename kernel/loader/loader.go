// Package loader is the kernel service that makes Rv6 processes into
// domains (idl.Loader): the Rv6 domain asks it to load a program for a
// process, and it creates a domain of the program's kind (registered by
// rv6/ulib.Register as "prog/NAME"), granted the process's syscalls, and
// hands back the capability to its idl.Program. Unload terminates the
// domain, which reclaims everything it held.
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

// A Loader creates program domains with one Manager.
type Loader struct {
	m *domain.Manager

	mu   sync.Mutex
	next uint64
	live map[uint64]*domain.Domain
}

// New returns a loader creating domains with m.
func New(m *domain.Manager) *Loader {
	return &Loader{m: m, live: map[uint64]*domain.Domain{}}
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

// Load implements idl.Loader.
func (l *Loader) Load(prog, name string, sys idl.Sys) (uint64, idl.Program, error) {
	if ok, _ := l.Has(prog); !ok {
		return 0, nil, fmt.Errorf("%s: no such program", prog)
	}
	c, ok := sys.(domain.Capability)
	if !ok || sys == nil {
		return 0, nil, fmt.Errorf("%s: the syscalls given are not a capability", prog)
	}
	d, err := l.m.Create(KindPrefix+prog, domain.Name(name), domain.Transient(), domain.Grant("sys", c.Target()))
	// The kernel's own binding to the process's syscalls was only the
	// way they reached it: drop it, or every spawn would leave one more
	// crossing in the Rv6 domain's list for good.
	c.Revoke()
	if err != nil {
		if d != nil {
			l.m.Kill(d)
		}
		return 0, nil, fmt.Errorf("%s: starting its domain: %w", prog, err)
	}
	p, err := domain.Connect[idl.Program](l.m.Kernel(), d)
	if err != nil {
		l.m.Kill(d)
		return 0, nil, fmt.Errorf("%s: connecting to its domain: %w", prog, err)
	}
	l.mu.Lock()
	l.next++
	h := l.next
	l.live[h] = d
	l.mu.Unlock()
	return h, p, nil
}

// Unload implements idl.Loader.
func (l *Loader) Unload(h uint64) error {
	l.mu.Lock()
	d := l.live[h]
	delete(l.live, h)
	l.mu.Unlock()
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
