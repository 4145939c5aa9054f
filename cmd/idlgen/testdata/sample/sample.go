// Package sample is an IDL package for the golden test of idlgen: every
// kind of parameter and result.
package sample

import (
	"time"

	"github.com/rlgo/redleaf/kernel/rref"
)

// Page is plain data.
type Page struct {
	Number uint64
	Name   string
	Bytes  [64]byte
	Pair   struct{ A, B int32 }
}

// Store exercises every way a value can cross.
type Store interface {
	// Open is part of the store's initialization.
	//
	//idl:init
	Open(name string, size uint64, timeout time.Duration) error
	// Put moves a page in.
	Put(p rref.RRef[Page]) error
	// Swap moves one page in and another out.
	Swap(p rref.RRef[Page], key uint64) (rref.RRef[Page], bool, error)
	// Scan reads borrowed pages and moves a batch in and out.
	Scan(a, b rref.Borrow[Page], batch rref.Deque[Page]) (rref.Deque[Page], int, error)
	// Watch passes a capability in and gets one back.
	Watch(w Watcher) (Watcher, error)
	// Close takes nothing and returns nothing but an error.
	Close() error
}

// Watcher is a capability passed across calls.
type Watcher interface {
	Changed(key uint64, p Page) error
}

// Helper is not part of the IDL.
//
//idl:skip
type Helper interface {
	Do(p *Page) error
}
