// Package idl declares the interfaces domains call each other through: the
// only way across a domain boundary.
//
// Every method of an exported interface here returns an error as its last
// result. Its other parameters and results must be exchangeable:
//
//   - plain data: booleans, numbers, strings, and arrays and structs of them
//     (no pointers, slices, maps, channels, funcs, interfaces or uintptr);
//   - rref.RRef[T] and rref.Deque[T] of plain T: moved to the callee (and
//     moved back when returned), zero-copy;
//   - rref.Borrow[T] of plain T, as a parameter: lent for the call;
//   - interfaces declared here: capabilities, rebound for the receiver.
//
// cmd/idlgen (go generate ./idl/...) checks that and writes, for every
// interface, its proxy and its shadow into proxies_gen.go. A method whose doc
// comment has the line //idl:init is part of the callee's initialization:
// shadows replay its last successful call on the instances they re-create;
// its parameters must be plain data. An interface whose doc comment has the
// line //idl:skip is not part of the IDL.
//
// Error values cross boundaries as values (domain.PassError): the caller
// gets the callee's error as it is only if it runs no code of the callee
// (errors.New values such as io.EOF, the kernel's errors); any other error
// reaches it as a *domain.CalleeError holding its message and the
// plain-data values of its chain (an errno), which errors.Is and errors.As
// find.
package idl

//go:generate go run github.com/rlgo/redleaf/cmd/idlgen
