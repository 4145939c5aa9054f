package domain_test

import (
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/internal/testdomains/stage"
	"github.com/rlgo/redleaf/kernel/domain"
)

// newManager returns a manager closed at the end of the test.
func newManager(t testing.TB) *domain.Manager {
	m := domain.NewManager()
	t.Cleanup(m.Close)
	return m
}

func create(t testing.TB, m *domain.Manager, kind string, opts ...domain.CreateOption) *domain.Domain {
	t.Helper()
	d, err := m.Create(kind, opts...)
	if err != nil {
		t.Fatalf("Create(%q): %v", kind, err)
	}
	return d
}

func connect[I any](t testing.TB, m *domain.Manager, p domain.Provider, opts ...domain.BindOption) I {
	t.Helper()
	v, err := domain.Connect[I](m.Kernel(), p, opts...)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return v
}

// failure returns the *FailedError in err's chain, or nil.
func failure(err error) *domain.FailedError {
	var f *domain.FailedError
	if errors.As(err, &f) {
		return f
	}
	return nil
}

// injector is the fault injector granted to stage domains: a kernel object.
type injector struct {
	mu     sync.Mutex
	next   uint64
	armed  map[uint64]arm
	fired  map[uint64]firing
	byInst map[domain.ID][]uint64
	onHang func(stage string) // if set, called as a stage takes a hang
}

type arm struct{ stage, point, kind string }

type firing struct {
	arm
	id domain.ID
}

func newInjector() *injector {
	return &injector{armed: map[uint64]arm{}, fired: map[uint64]firing{}, byInst: map[domain.ID][]uint64{}}
}

// Arm returns a ticket that makes stage commit fault kind at point, once.
func (j *injector) Arm(stage, point, kind string) uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.next++
	j.armed[j.next] = arm{stage, point, kind}
	return j.next
}

func (j *injector) Take(ticket uint64, name string, id domain.ID, point string) string {
	j.mu.Lock()
	defer j.mu.Unlock()
	a, ok := j.armed[ticket]
	if !ok || a.stage != name || a.point != point {
		return ""
	}
	delete(j.armed, ticket)
	j.fired[ticket] = firing{a, id}
	j.byInst[id] = append(j.byInst[id], ticket)
	if a.kind == stage.Hang && j.onHang != nil {
		j.onHang(name)
	}
	return a.kind
}

var _ stage.Injector = (*injector)(nil)

// waitGoroutines waits until the number of goroutines is at most n.
func waitGoroutines(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stageChain creates stages named by names, each granted the next, the last
// granted nothing; it returns them first to last.
func stageChain(t testing.TB, m *domain.Manager, inj *injector, names ...string) []*domain.Domain {
	t.Helper()
	ds := make([]*domain.Domain, len(names))
	for i := len(names) - 1; i >= 0; i-- {
		opts := []domain.CreateOption{domain.Name(names[i]), domain.GrantDevice(stage.GrantFaults, stage.Injector(inj))}
		if i+1 < len(names) {
			opts = append(opts, domain.Grant(stage.GrantNext, ds[i+1]))
		}
		ds[i] = create(t, m, stage.Kind, opts...)
	}
	return ds
}

var _ idl.Stage = (*stage.Stage)(nil)
