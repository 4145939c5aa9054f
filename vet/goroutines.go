package vet

import (
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/ast/inspector"
	"golang.org/x/tools/go/types/typeutil"
)

// The go rule beyond go statements and banned functions: goroutines that
// run domain code can also be started by the standard library on a
// domain's behalf, through a type of the domain's or an interface.
//
//   - context.WithCancel, WithTimeout, WithDeadline and their Cause forms
//     start a goroutine that calls the parent's Err and Value when the
//     parent is not one of the context package's own contexts. So no type
//     of a domain may implement context.Context with methods of its own
//     (embedding a context.Context and overriding nothing is fine): the
//     parents domains pass are then always the standard library's, whatever
//     the static type at the call.
//   - (*sync.WaitGroup).Go is banned by name, which catches calls, method
//     values and expressions and promoted methods; through an interface or
//     a type parameter the name resolves to the interface's method, so any
//     call of a method Go(func()) through one is refused too.

// contextMethods are the methods of context.Context.
var contextMethods = []string{"Deadline", "Done", "Err", "Value"}

// checkTypes reports the types declared or written in the files that
// implement context.Context with methods of domain code.
func (c *domainCheck) checkTypes(files []inspector.Cursor) {
	info := c.pass.TypesInfo
	for _, fc := range files {
		for cur := range fc.Preorder((*ast.TypeSpec)(nil), (*ast.StructType)(nil)) {
			var t types.Type
			switch n := cur.Node().(type) {
			case *ast.TypeSpec:
				if tn, ok := info.Defs[n.Name].(*types.TypeName); ok && !tn.IsAlias() {
					t = tn.Type()
				}
			case *ast.StructType:
				t = info.TypeOf(n)
			}
			if t == nil || types.IsInterface(t) {
				continue
			}
			if m := c.domainContextMethod(t); m != nil {
				c.report(cur.Node().Pos(), "go", "%s implements context.Context with a method of domain code (%s): the context package calls a parent's methods on a goroutine of its own (context.WithCancel and friends), not one from the kernel's spawn call, so a panic there would not be caught and attributed; use the contexts the context package makes",
					types.TypeString(t, types.RelativeTo(c.pass.Pkg)), m.Name())
			}
		}
	}
}

// domainContextMethod returns a method of domain code by which t (or *t)
// implements context.Context, or nil.
func (c *domainCheck) domainContextMethod(t types.Type) *types.Func {
	ms := typeutil.IntuitiveMethodSet(t, nil)
	var found *types.Func
	have := 0
	for _, sel := range ms {
		fn, ok := sel.Obj().(*types.Func)
		if !ok {
			continue
		}
		for _, name := range contextMethods {
			if fn.Name() != name {
				continue
			}
			have++
			if p := fn.Pkg(); p == c.pass.Pkg || p != nil && !isStandard(p.Path()) && !inTree(p.Path(), kernelRing) {
				found = fn
			}
		}
	}
	if have < len(contextMethods) {
		return nil
	}
	return found
}

// isGoMethod reports whether fn, a method reached through an interface or
// a type parameter, could be (*sync.WaitGroup).Go: named Go, taking one
// func() and returning nothing.
func isGoMethod(fn *types.Func) bool {
	sig := fn.Signature()
	recv := sig.Recv()
	if fn.Name() != "Go" || recv == nil || !types.IsInterface(recv.Type()) || sig.Params().Len() != 1 || sig.Results().Len() != 0 {
		return false
	}
	f, ok := sig.Params().At(0).Type().Underlying().(*types.Signature)
	return ok && f.Params().Len() == 0 && f.Results().Len() == 0
}
