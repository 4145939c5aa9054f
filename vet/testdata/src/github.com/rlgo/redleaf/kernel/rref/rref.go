// Package rref stands in for the kernel's shared heap API.
package rref

type Account struct{ id uint32 }

func (a *Account) ID() uint32 { return a.id }
func (a *Account) Close() int { return 0 }

type RRef[T any] struct{ p *T }

func (r RRef[T]) Get() *T { return r.p }

type Borrow[T any] struct{ p *T }

func (r RRef[T]) Borrow() Borrow[T] { return Borrow[T]{r.p} }

func New[T any](a *Account, v T) RRef[T] { return RRef[T]{&v} }

func Move[T any](r RRef[T], from, to *Account) RRef[T] { return r }

func Lend[T any](b Borrow[T], from, to *Account) Borrow[T] { return b }
