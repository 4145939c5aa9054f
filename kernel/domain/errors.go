package domain

import (
	"errors"
	"fmt"
	"time"
)

// ID identifies a domain instance. It is also the owner id of the RRefs the
// instance holds (its rref.Account id). IDs are never reused.
type ID uint32

// A FailedError says that a domain instance died: it panicked (on a call or
// on one of its threads), did not return within a call's deadline, failed to
// construct, or was terminated. It is what a caller gets from a proxy to a
// dead domain; every caller gets the same *FailedError for the same death.
type FailedError struct {
	Domain string // the instance's name
	ID     ID
	Value  any    // the panic value, *DeadlineError, ErrTerminated, or the constructor's error
	Where  string // where it happened: "call", "thread NAME", "constructor", "deadline", "kill"
	Stack  []byte // the stack of the panic, if it was one
}

func (e *FailedError) Error() string {
	if e.Value == ErrTerminated {
		return fmt.Sprintf("domain %s (#%d) terminated", e.Domain, e.ID)
	}
	return fmt.Sprintf("domain %s (#%d) failed (%s): %v", e.Domain, e.ID, e.Where, e.Value)
}

// Unwrap returns Value if it is an error (a runtime.Error, ErrTerminated, a
// *DeadlineError, ...).
func (e *FailedError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// A DeadlineError is the Value of the FailedError of a domain that did not
// return from a call within its binding's deadline.
type DeadlineError struct {
	Call  string        // Interface.Method
	After time.Duration // the deadline
}

func (e *DeadlineError) Error() string {
	return fmt.Sprintf("%s did not return within %v", e.Call, e.After)
}

var (
	// ErrTerminated is the Value of the FailedError of a domain the
	// kernel terminated (Manager.Kill).
	ErrTerminated = errors.New("terminated")
	// ErrRevoked is returned by calls through a revoked capability.
	ErrRevoked = errors.New("domain: capability revoked")
	// ErrNoGrant is returned by Import, Device and TakeRRef for a name the
	// domain was not granted.
	ErrNoGrant = errors.New("domain: not granted")
)
