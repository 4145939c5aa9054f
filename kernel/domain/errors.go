package domain

import (
	"bytes"
	"fmt"
	"reflect"
	"time"

	"github.com/rlgo/redleaf/kernel/rref"
)

// ID identifies a domain instance. It is also the owner id of the RRefs the
// instance holds (its rref.Account id). IDs are never reused.
type ID uint32

// A FailedError says that a domain instance died: it panicked (on a call or
// on one of its threads), did not return within a call's deadline, failed to
// construct, or was terminated. It is what a caller gets from a proxy to a
// dead domain.
//
// The kernel keeps its own record of every death; each observer (a caller,
// Err, the event log, a hook) gets a copy of it, so rewriting the fields of
// one changes nobody else's, and Domain.Failed recognizes a copy of the
// record whatever its fields say. Error never runs code of a domain: a panic
// value of a type the kernel does not know is described by its type only
// (see Error), so a value whose String or Error method blocks or panics
// cannot stall whoever prints the failure.
type FailedError struct {
	Domain string // the instance's name
	ID     ID
	Value  any    // the panic value, *DeadlineError, ErrTerminated, or the constructor's error
	Where  string // where it happened: "call", "thread NAME", "constructor", "deadline", "kill"
	Stack  []byte // the stack of the panic, if it was one

	rec *FailedError // the kernel's record this is a copy of; nil in one the kernel did not hand out
}

// Error describes the failure. The value is printed if it is a string, a
// number, a boolean, or an error of the runtime, of packages errors and fmt
// (errors.New, fmt.Errorf) or of the kernel; any other value is named by
// its type ("an error of type T"): its own methods are domain code.
func (e *FailedError) Error() string { return e.describe(0) }

func (e *FailedError) describe(depth int) string {
	if e.Value == ErrTerminated {
		return fmt.Sprintf("domain %s (#%d) terminated", e.Domain, e.ID)
	}
	return fmt.Sprintf("domain %s (#%d) failed (%s): %s", e.Domain, e.ID, e.Where, describe(e.Value, depth+1))
}

// Unwrap returns Value if it is an error whose methods are not a domain's:
// a runtime.Error, an errors.New value, or a kernel error (ErrTerminated, a
// *DeadlineError, a *rref.UseError, ...). A panic value of a domain's error
// type is not unwrapped: errors.Is and errors.As would run its methods on
// the thread that looks (Value still holds it).
func (e *FailedError) Unwrap() error {
	err, ok := e.Value.(error)
	if !ok || !isKernelError(err) && !runtimeOrErrorsNew(reflect.TypeOf(err)) {
		return nil
	}
	return err
}

// runtimeOrErrorsNew reports whether t is an error type of the runtime or
// errors.New's.
func runtimeOrErrorsNew(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.PkgPath() == "runtime" || t.PkgPath() == "errors" && t.Name() == "errorString"
}

// copyOf returns a copy of e for one observer, tied to the kernel's record.
func (e *FailedError) copyOf() *FailedError {
	if e == nil {
		return nil
	}
	c := *e
	c.Stack = bytes.Clone(e.Stack)
	if c.rec == nil {
		c.rec = e
	}
	return &c
}

// Failed reports whether err is the kernel's report of d's death: a
// *FailedError the kernel handed out for it, as a proxy returns it. An
// error that only says so (a FailedError a domain made, or changed, or got
// for another instance) is not. Shadows decide with it whether to restart.
func (d *Domain) Failed(err error) bool {
	f, ok := err.(*FailedError)
	if !ok || f == nil || f.rec == nil {
		return false
	}
	return f.rec == d.failure.Load()
}

// maxDescribe bounds the nesting of failures in a description (a domain that
// panics with the failure of a domain that panicked with ...).
const maxDescribe = 4

// describe prints panic value v without calling any method a domain wrote.
func describe(v any, depth int) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		return x
	case bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, uintptr,
		float32, float64, complex64, complex128:
		return fmt.Sprint(x)
	case *unwinding:
		return "the unwinding of domain " + x.d.name
	case *FailedError:
		if x == nil || depth >= maxDescribe {
			return "a domain failure"
		}
		return x.describe(depth)
	case Error:
		return string(x)
	case *DeadlineError:
		if x != nil {
			return x.Error()
		}
	case *rref.UseError:
		if x != nil {
			return x.Error()
		}
	}
	t := reflect.TypeOf(v)
	e, isErr := v.(error)
	switch {
	case isErr && trustedError(t):
		return e.Error()
	case isErr:
		return "an error of type " + t.String()
	}
	return "a value of type " + t.String()
}

// trustedError reports whether t is an error type whose Error method is
// not domain code and prints nothing a domain wrote a method for: the
// runtime's errors, and the values of errors.New and fmt.Errorf (whose
// message is computed when they are made).
func trustedError(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch pkg := t.PkgPath(); {
	case pkg == "runtime":
		return true
	case pkg == "errors":
		return t.Name() == "errorString"
	case pkg == "fmt":
		return t.Name() == "wrapError" || t.Name() == "wrapErrors"
	}
	return false
}

// A DeadlineError is the Value of the FailedError of a domain that did not
// return from a call (or its constructor) within its deadline.
type DeadlineError struct {
	Call  string        // Interface.Method, or "constructor"
	After time.Duration // the deadline
}

func (e *DeadlineError) Error() string {
	return fmt.Sprintf("%s did not return within %v", e.Call, e.After)
}

// The kernel's sentinel errors are constants: a package variable could be
// reassigned by any package that imports this one, domains included.
const (
	// ErrTerminated is the Value of the FailedError of a domain the
	// kernel terminated (Manager.Kill).
	ErrTerminated = Error("terminated")
	// ErrRevoked is returned by calls through a revoked capability.
	ErrRevoked = Error("domain: capability revoked")
	// ErrNoGrant is returned by Import, Device and TakeRRef for a name the
	// domain was not granted.
	ErrNoGrant = Error("domain: not granted")
)

// Error is the type of the kernel's sentinel errors.
type Error string

func (e Error) Error() string { return string(e) }
