package idl

import "github.com/rlgo/redleaf/kernel/rref"

// Bench is the interface of the cross-domain call benchmarks
// (CrossDomainCall in kernel/domain).
type Bench interface {
	// Null does nothing: the cost of a crossing.
	Null() error
	// Echo returns b: the cost of moving one RRef in and back.
	Echo(b rref.RRef[Block]) (rref.RRef[Block], error)
	// Peek returns byte i of a borrowed block: the cost of lending one RRef.
	Peek(b rref.Borrow[Block], i uint32) (byte, error)
}
