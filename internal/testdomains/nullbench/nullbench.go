//rl:domain

// Package nullbench is the domain of the CrossDomainCall benchmark: an
// idl.Bench that does as little as it can.
package nullbench

import (
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
)

// Kind is the name nullbench registers under.
const Kind = "nullbench"

func init() {
	domain.Register(Kind, func(*domain.Context) (idl.Bench, error) { return &Bench{}, nil })
}

// Bench implements idl.Bench.
type Bench struct{}

// Null does nothing.
func (*Bench) Null() error { return nil }

// Echo returns b.
func (*Bench) Echo(b rref.RRef[idl.Block]) (rref.RRef[idl.Block], error) { return b, nil }

// Peek returns byte i of the borrowed block.
func (*Bench) Peek(b rref.Borrow[idl.Block], i uint32) (byte, error) {
	return b.Get()[i%idl.BlockSize], nil
}
