// Package reject holds one IDL violation per interface, for the rejection
// table of idlgen's test. Line numbers matter: the test expects them.
package reject

import "github.com/rlgo/redleaf/kernel/rref"

type Data struct{ X int }

type Ptr interface {
	Set(d *Data) error
}

type Slice interface {
	Write(buf []byte) error
}

type Map interface {
	Load() (map[string]int, error)
}

type Chan interface {
	Events(c chan int) error
}

type Func interface {
	Each(f func(int)) error
}

type NoError interface {
	Size() int
}

type ErrorNotLast interface {
	Get() (error, int)
}

type Nested interface {
	Put(v struct{ P *int }) error
}

type Variadic interface {
	Log(args ...int) error
}

type Any interface {
	Send(v any) error
}

type ErrorParam interface {
	Report(err error) error
}

type BorrowResult interface {
	Lend() (rref.Borrow[Data], error)
}

type BadPayload interface {
	Put(r rref.RRef[[]byte]) error
}

type RRefInStruct interface {
	Put(v struct{ R rref.RRef[Data] }) error
}

type Uintptr interface {
	Addr(p uintptr) error
}

type InitWithRRef interface {
	//idl:init
	Start(r rref.RRef[Data]) error
}
