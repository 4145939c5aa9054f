// Package domain stands in for the kernel's domain manager: the names the
// api rule decides on, with the kernel's signatures.
package domain

import "github.com/rlgo/redleaf/kernel/rref"

type ID uint32

type Context struct{ heap *rref.Account }

func (c *Context) Heap() *rref.Account          { return c.heap }
func (c *Context) Spawn(name string, fn func()) {}
func (c *Context) Done() <-chan struct{}        { return nil }

type Domain struct{}

type Crossing struct{}

func (x *Crossing) Fail(v any) {}

type Provider interface{}

type Manager struct{}

func NewManager() *Manager { return &Manager{} }

func (m *Manager) Kill(id ID) error { return nil }

func Register[I any](name string, new func(*Context) (I, error)) {}

func RegisterProxy[I any](newProxy func(x *Crossing, impl I) I) {}

func Connect[I any](holder *Domain, p Provider) (I, error) {
	var zero I
	return zero, nil
}

func Import[I any](c *Context, name string) (I, error) {
	var zero I
	return zero, nil
}

type FailedError struct {
	Domain string
	ID     ID
}

func (e *FailedError) Error() string { return e.Domain }
