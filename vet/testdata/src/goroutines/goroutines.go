// Package goroutines starts goroutines that run its code without a go
// statement (review item 3): through context parents of its own, and
// WaitGroup.Go in every spelling.
package goroutines

import (
	"context"
	"sync"
	"time"
)

// ctx is a context.Context of the domain's: context.WithCancel(ctx) would
// call its methods on a goroutine of the context package's.
type ctx struct{} // want `^go: ctx implements context.Context with a method of domain code`

func (ctx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (ctx) Done() <-chan struct{}       { return make(chan struct{}) }
func (ctx) Err() error                  { panic("on the runtime's goroutine") }
func (ctx) Value(any) any               { return nil }

// wrapped embeds a real context and overrides one method.
type wrapped struct{ context.Context } // want `^go: wrapped implements context.Context with a method of domain code \(Err\)`

func (wrapped) Err() error { panic("boom") }

// Generic, with a pointer receiver.
type gen[T any] struct{ v T } // want `^go: gen\[T any\] implements context.Context with a method of domain code`

func (*gen[T]) Deadline() (time.Time, bool) { return time.Time{}, false }
func (*gen[T]) Done() <-chan struct{}       { return nil }
func (*gen[T]) Err() error                  { return nil }
func (*gen[T]) Value(any) any               { return nil }

// Two halves, each harmless alone, joined in an anonymous struct.
type half1 struct{}
type half2 struct{}

func (half1) Deadline() (time.Time, bool) { return time.Time{}, false }
func (half1) Done() <-chan struct{}       { return nil }
func (half2) Err() error                  { return nil }
func (half2) Value(any) any               { return nil }

func Parents(parent context.Context) {
	context.WithCancel(ctx{})
	joined := struct { // want `^go: struct{half1; half2} implements context.Context with a method of domain code`
		half1
		half2
	}{}
	context.WithTimeout(joined, time.Second)
}

// plain embeds a context and adds nothing: the context package's methods.
type plain struct{ context.Context }

type goer interface{ Go(f func()) }

type waiter struct{ *sync.WaitGroup }

func run[G interface{ Go(func()) }](g G, f func()) {
	g.Go(f) // want `^banned: domains may not call a method Go\(func\(\)\) through an interface or type parameter`
}

func Go(wg *sync.WaitGroup, f func()) {
	start := wg.Go // want `^banned: domains may not use \(\*sync.WaitGroup\).Go: `
	start(f)
	(*sync.WaitGroup).Go(wg, f) // want `^banned: domains may not use \(\*sync.WaitGroup\).Go: `
	w := waiter{wg}
	w.Go(f) // want `^banned: domains may not use \(\*sync.WaitGroup\).Go: `
	var g goer = wg
	g.Go(f) // want `^banned: domains may not call a method Go\(func\(\)\) through an interface`
	run(wg, f)
	_ = plain{}
}
