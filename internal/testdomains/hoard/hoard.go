//rl:domain

// Package hoard is a domain that holds things, so that tests can watch the
// kernel take them back when it dies: RRefs of its own, a deque full of
// them, buffers from a granted pool, an RRef granted by the kernel, and a
// thread waiting for its end. It exports an idl.Bench.
package hoard

import (
	"sync"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
)

// Kind is the name hoard registers under.
const Kind = "hoard"

// Grant names, all optional.
const (
	GrantPool = "pool" // a *rref.Pool[idl.Block] to take Config.Buffers from
	GrantRRef = "gift" // an rref.RRef[idl.Block] the kernel gives it
	GrantConf = "config"
)

// Config says how much to hold.
type Config struct {
	RRefs   int  // RRefs of its own
	Deque   int  // RRefs in a deque
	Buffers int  // pool buffers
	Thread  bool // a thread waiting on Done
}

func init() {
	domain.Register(Kind, New)
}

// Hoard implements idl.Bench; it keeps what it holds.
type Hoard struct {
	mu    sync.Mutex
	own   []rref.RRef[idl.Block] // guarded by mu
	deque rref.Deque[idl.Block]
	bufs  []rref.RRef[idl.Block]
	gift  rref.RRef[idl.Block]
}

// New is the constructor.
func New(ctx *domain.Context) (idl.Bench, error) {
	cfg, _ := domain.Device[Config](ctx, GrantConf)
	h := &Hoard{}
	heap := ctx.Heap()
	for range cfg.RRefs {
		h.own = append(h.own, rref.New(heap, idl.Block{1}))
	}
	if cfg.Deque > 0 {
		h.deque = rref.NewDeque[idl.Block](heap, cfg.Deque)
		for range cfg.Deque {
			h.deque.PushBack(rref.New(heap, idl.Block{2}))
		}
	}
	if pool, err := domain.Device[*rref.Pool[idl.Block]](ctx, GrantPool); err == nil {
		for range cfg.Buffers {
			if b, ok := pool.Get(heap); ok {
				h.bufs = append(h.bufs, b)
			}
		}
	}
	h.gift, _ = domain.TakeRRef[idl.Block](ctx, GrantRRef)
	if cfg.Thread {
		ctx.Spawn("waiter", func() { <-ctx.Done() })
	}
	return h, nil
}

// Null does nothing.
func (*Hoard) Null() error { return nil }

// Echo keeps b and returns nothing.
func (h *Hoard) Echo(b rref.RRef[idl.Block]) (rref.RRef[idl.Block], error) {
	h.mu.Lock()
	h.own = append(h.own, b)
	h.mu.Unlock()
	return rref.RRef[idl.Block]{}, nil
}

// Peek returns byte i of the borrowed block.
func (*Hoard) Peek(b rref.Borrow[idl.Block], i uint32) (byte, error) {
	return b.Get()[i%idl.BlockSize], nil
}
