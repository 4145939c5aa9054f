//rl:domain

// Package stage is a link of a chain of domains (idl.Stage) that fails on
// demand: the fault-injection tests grant it a fault injector (a kernel
// object) and send it requests carrying tickets, and it commits the fault a
// ticket is armed with, for real: a nil dereference, an index out of range,
// a division by zero, an explicit panic, a panic on a thread of its own, or
// a call that never returns.
package stage

import (
	"fmt"
	"sync"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
)

// Kind is the name stage registers under.
const Kind = "stage"

// Grant names.
const (
	GrantNext   = "next"   // the idl.Stage it passes requests on to (optional)
	GrantFaults = "faults" // its Injector (optional)
)

// Points of Handle where a fault can be armed.
const (
	Before = "before" // on entry, before calling the next stage
	After  = "after"  // after the next stage replied
)

// Fault kinds.
const (
	NilPtr  = "nilptr"
	Index   = "index"
	DivZero = "divzero"
	Panic   = "panic"
	Thread  = "thread" // a panic on a thread the stage spawns
	Hang    = "hang"   // never returns (until the stage is killed)
)

// Kinds lists the fault kinds.
var Kinds = []string{NilPtr, Index, DivZero, Panic, Thread, Hang}

// An Injector decides which faults to commit: Take returns the kind of
// fault ticket is armed with for the stage named name (instance id) at
// point, once, or "".
type Injector interface {
	Take(ticket uint64, name string, id domain.ID, point string) string
}

func init() {
	domain.Register(Kind, New)
}

// Stage implements idl.Stage.
type Stage struct {
	ctx    *domain.Context
	faults Injector
	table  [4]uint64
	sink   uint64

	mu   sync.Mutex
	tag  uint64
	next idl.Stage
}

// New is the constructor.
func New(ctx *domain.Context) (idl.Stage, error) {
	s := &Stage{ctx: ctx}
	if next, err := domain.Import[idl.Stage](ctx, GrantNext); err == nil {
		s.next = next
	}
	if inj, err := domain.Device[Injector](ctx, GrantFaults); err == nil {
		s.faults = inj
	}
	return s, nil
}

// Configure sets the stage's tag.
func (s *Stage) Configure(cfg idl.StageConfig) error {
	s.mu.Lock()
	s.tag = cfg.Tag
	s.mu.Unlock()
	return nil
}

// Link sets the next stage.
func (s *Stage) Link(next idl.Stage) error {
	s.mu.Lock()
	s.next = next
	s.mu.Unlock()
	return nil
}

// Next is the stage requests go on to (for tests).
func (s *Stage) Next() idl.Stage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next
}

// Handle passes req on and stamps the reply.
func (s *Stage) Handle(req idl.Request) (idl.Reply, error) {
	s.fire(req.Ticket, Before)
	s.mu.Lock()
	next, tag := s.next, s.tag
	s.mu.Unlock()
	rep := idl.Reply{Seq: req.Seq}
	if next != nil {
		r, err := next.Handle(req)
		if err != nil {
			return idl.Reply{}, fmt.Errorf("%s: %w", s.ctx.Name(), err)
		}
		rep = r
	}
	s.fire(req.Ticket, After)
	rep.Hops++
	rep.Tags += tag
	return rep, nil
}

// fire commits the fault ticket is armed with at point, if any.
func (s *Stage) fire(ticket uint64, point string) {
	if ticket == 0 || s.faults == nil {
		return
	}
	switch s.faults.Take(ticket, s.ctx.Name(), s.ctx.ID(), point) {
	case NilPtr:
		var r *idl.Reply
		s.sink = r.Seq
	case Index:
		//lint:ignore SA4028 the index must not be a constant the compiler sees
		i := len(s.table) + int(ticket%1)
		s.sink = s.table[i]
	case DivZero:
		//lint:ignore SA4000 the divisor must not be a constant the compiler sees
		zero := ticket - ticket
		s.sink = ticket / zero
	case Panic:
		panic(fmt.Sprintf("injected panic (ticket %d)", ticket))
	case Thread:
		s.ctx.Spawn("bomb", func() {
			panic(fmt.Sprintf("injected panic on a thread (ticket %d)", ticket))
		})
		<-s.ctx.Done() // the thread's panic fails the stage
		s.ctx.Check()  // and this thread stops here
	case Hang:
		s.ctx.Sleep(time.Hour) // until the deadline fails the stage
	}
}
