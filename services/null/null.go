//rl:domain

// Package null is the booted system's null service: an idl.Bench domain that
// does nothing, as internal/testdomains/nullbench does, but with a
// fault point (package kernel/faults) at the entry of every method. The
// system runs it without a shadow, next to the shadowed RAM disk, so that a
// person can see the difference: a fault injected here reaches the caller
// as an error, and the service stays dead until it is restarted.
package null

import (
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/faults"
	"github.com/rlgo/redleaf/kernel/rref"
)

// Kind is the name null registers under.
const Kind = "null"

// GrantFaults is the grant name of its faults.Device (optional).
const GrantFaults = faults.Grant

func init() {
	domain.Register(Kind, New)
}

// Null implements idl.Bench.
type Null struct {
	ctx    *domain.Context
	faults faults.Device
}

// New is the constructor.
func New(ctx *domain.Context) (idl.Bench, error) {
	return &Null{ctx: ctx, faults: faults.From(ctx)}, nil
}

// Null does nothing.
func (n *Null) Null() error {
	n.faults.Point(n.ctx)
	return nil
}

// Echo returns b.
func (n *Null) Echo(b rref.RRef[idl.Block]) (rref.RRef[idl.Block], error) {
	n.faults.Point(n.ctx)
	return b, nil
}

// Peek returns byte i of the borrowed block.
func (n *Null) Peek(b rref.Borrow[idl.Block], i uint32) (byte, error) {
	n.faults.Point(n.ctx)
	return b.Get()[i%idl.BlockSize], nil
}
