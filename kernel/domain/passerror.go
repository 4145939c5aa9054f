package domain

import (
	"errors"
	"reflect"

	"github.com/rlgo/redleaf/kernel/rref"
)

// An error a callee returns is an interface value: its dynamic type can
// hold pointers into the callee, and its methods (Error, Is, As, Unwrap)
// are the callee's code. If the caller got it as it is, the callee's code
// would run on the caller's thread, outside any crossing, whenever the
// caller looked at the error: a panic there would be the caller's, a block
// would hold it, and the callee could change the error after the call. So
// errors cross as values (PassError), the way RRefs cross by move.

// maxChain bounds the chain PassError walks (a hostile Unwrap can return
// itself).
const maxChain = 16

// PassError is what the caller gets for err, the error its callee returned:
// err itself if it cannot run code of the callee or share memory with it
// (nil, an errors.New value such as io.EOF, the kernel's sentinels), a copy
// if it is a kernel error (a *FailedError the callee got from a domain
// further down stays recognizable: see Domain.Failed); otherwise a
// *CalleeError, which holds err's message and the values of err's chain
// that errors.Is and errors.As can use without calling the callee: its
// plain-data values (an errno) and kernel errors. PassError runs inside the
// crossing, so a callee's Error or Unwrap method that panics or hangs fails
// the callee, not its caller. For generated proxies, on the error result of
// every call.
func PassError(err error) error {
	if v, ok := passAsIs(err); ok {
		return v
	}
	ce := &CalleeError{msg: err.Error()}
	walk := []error{err}
	for n := 0; len(walk) > 0 && n < maxChain; n++ {
		e := walk[0]
		walk = walk[1:]
		if v, ok := passAsIs(e); ok {
			ce.chain = append(ce.chain, v)
			continue
		}
		switch t := reflect.TypeOf(e); {
		case rref.Exchangeable(t) == nil:
			ce.chain = append(ce.chain, e) // plain data: a copy of the value
		case t.Comparable():
			ce.same = append(ce.same, e) // for ==, which runs no code of it
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			if w := u.Unwrap(); w != nil {
				walk = append(walk, w)
			}
		case interface{ Unwrap() []error }:
			for _, w := range u.Unwrap() {
				if w != nil {
					walk = append(walk, w)
				}
			}
		}
	}
	return ce
}

// passAsIs returns what the caller may get of e without a CalleeError: e
// itself, or a copy of a kernel error.
func passAsIs(e error) (error, bool) {
	switch x := e.(type) {
	case nil:
		return nil, true
	case Error:
		return x, true
	case *FailedError:
		if x != nil {
			return x.copyOf(), true
		}
	case *DeadlineError:
		if x != nil {
			c := *x
			return &c, true
		}
	case *rref.UseError:
		if x != nil {
			c := *x
			return &c, true
		}
	case *CalleeError:
		// Made by the kernel for a call further down, and immutable.
		return x, true
	}
	if t := reflect.TypeOf(e); t.Kind() == reflect.Pointer && t.Elem().PkgPath() == "errors" && t.Elem().Name() == "errorString" {
		return e, true // errors.New: an immutable message (io.EOF is one)
	}
	return nil, false
}

// A CalleeError is the error a callee returned, as its caller gets it (see
// PassError): the message, computed inside the crossing, and the plain-data
// values and kernel errors of the callee's error chain, for errors.Is and
// errors.As. It runs no code of the callee.
type CalleeError struct {
	msg   string
	chain []error // plain-data values and kernel errors: for errors.Is and errors.As
	same  []error // the other comparable errors of the chain: for errors.Is (==) only
}

func (e *CalleeError) Error() string { return e.msg }

// Is reports whether target is one of the errors of the callee's chain (a
// sentinel such as a package's ErrNotFound, compared with ==, or a
// plain-data value equal to it).
func (e *CalleeError) Is(target error) bool {
	for _, c := range e.chain {
		if c == target || isKernelError(c) && errors.Is(c, target) {
			return true
		}
	}
	for _, c := range e.same {
		if c == target {
			return true
		}
	}
	return false
}

// As sets target (a non-nil pointer) to the first value of the callee's
// chain assignable to it: a plain-data value only into a variable of its
// own type.
func (e *CalleeError) As(target any) bool {
	p := reflect.ValueOf(target)
	if p.Kind() != reflect.Pointer || p.IsNil() {
		return false
	}
	want := p.Type().Elem()
	for _, c := range e.chain {
		// Into an interface, only a kernel error: the caller would call
		// the methods of a domain's type through it.
		if (want.Kind() != reflect.Interface || isKernelError(c)) && reflect.TypeOf(c).AssignableTo(want) {
			p.Elem().Set(reflect.ValueOf(c))
			return true
		}
		if isKernelError(c) && errors.As(c, target) {
			return true
		}
	}
	return false
}

// isKernelError reports whether c's methods are the kernel's (so that
// errors.Is and errors.As may look inside it).
func isKernelError(c error) bool {
	switch c.(type) {
	case *FailedError, *DeadlineError, *rref.UseError, *CalleeError, Error:
		return true
	}
	return false
}
