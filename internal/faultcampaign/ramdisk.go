package faultcampaign

import (
	"fmt"
	"sync"
	"time"

	"github.com/rlgo/redleaf/drivers/ramdisk"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/faults"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// RAMDisk is the RAM-disk driver (drivers/ramdisk) over memory the
// campaign grants it, which outlives every instance as the booted
// system's does.
type RAMDisk struct {
	Blocks int64 // the disk's size in blocks (default 1024: 4 MiB)
	// Gate, if set, is called by the memory on every access, on the
	// driver's thread: tests hold a driver inside a call with it.
	Gate func()
}

// Name implements Target.
func (*RAMDisk) Name() string { return ramdisk.Kind }

// Unit implements Target.
func (*RAMDisk) Unit() string { return "blocks" }

// Start implements Target.
func (t *RAMDisk) Start(m *domain.Manager, inj *faults.Injector, p shadow.Policy, deadline time.Duration) (*shadow.Guard, Client, error) {
	n := t.Blocks
	if n <= 0 {
		n = 1024
	}
	mem := &memory{b: make([]byte, n*idl.BlockSize), gate: t.Gate}
	d, err := m.Create(ramdisk.Kind, domain.Name(ramdisk.Kind),
		domain.GrantDevice(ramdisk.GrantMemory, ramdisk.Memory(mem)),
		domain.GrantDevice(ramdisk.GrantFaults, inj.Device()))
	if err != nil {
		return nil, nil, fmt.Errorf("ramdisk: %w", err)
	}
	g, err := shadow.New(m, d, p)
	if err != nil {
		return nil, nil, err
	}
	dev, err := domain.Connect[idl.BlockDevice](m.Kernel(), g, domain.Deadline(deadline))
	if err != nil {
		return nil, nil, err
	}
	return g, newBlockClient(dev, m.Kernel().Heap(), uint64(n)), nil
}

// Close implements Target.
func (*RAMDisk) Close() {}

// memory is the RAM disk's storage: kernel memory, safe for the
// concurrent use of a dying instance and its successor.
type memory struct {
	mu   sync.RWMutex
	b    []byte
	gate func()
}

func (m *memory) Size() int64 { return int64(len(m.b)) }

func (m *memory) ReadAt(p []byte, off int64) (int, error) {
	if m.gate != nil {
		m.gate()
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if off < 0 || off+int64(len(p)) > int64(len(m.b)) {
		return 0, fmt.Errorf("ramdisk memory: %d bytes at %d: beyond its %d", len(p), off, len(m.b))
	}
	return copy(p, m.b[off:]), nil
}

func (m *memory) WriteAt(p []byte, off int64) (int, error) {
	if m.gate != nil {
		m.gate()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if off < 0 || off+int64(len(p)) > int64(len(m.b)) {
		return 0, fmt.Errorf("ramdisk memory: %d bytes at %d: beyond its %d", len(p), off, len(m.b))
	}
	return copy(m.b[off:], p), nil
}
