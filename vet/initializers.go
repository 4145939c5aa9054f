package vet

import (
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/ast/inspector"
	"golang.org/x/tools/go/types/typeutil"
)

// checkInitializers applies the global rule to what package-level
// variables are initialized with: state hidden in function values, and
// interface values whose methods could change them (see globals.go).
func (c *domainCheck) checkInitializers(files []inspector.Cursor) {
	for _, fc := range files {
		for _, decl := range fc.Node().(*ast.File).Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, val := range vs.Values {
					name := vs.Names[0].Name
					if len(vs.Values) == len(vs.Names) {
						name = vs.Names[i].Name
					}
					if name == "_" {
						continue // never read: var _ I = (*T)(nil) and the like
					}
					c.checkFuncState(val, name)
					if len(vs.Values) == len(vs.Names) {
						if v, ok := c.pass.TypesInfo.Defs[vs.Names[i]].(*types.Var); ok {
							c.checkInterfaceValue(val, v)
						}
					}
				}
			}
		}
	}
}

// checkFuncState reports, in the initializer of package-level var name,
// the function values that carry state: results of calls that hold a
// function (closures, sync.OnceValue's) and method values.
func (c *domainCheck) checkFuncState(init ast.Expr, name string) {
	info := c.pass.TypesInfo
	ast.Inspect(init, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false // its body runs later; package-level is all it can capture
		case *ast.CallExpr:
			if tv, ok := info.Types[n.Fun]; ok && tv.IsType() {
				return true // a conversion
			}
			if _, ok := typeutil.Callee(info, n).(*types.Builtin); ok {
				return true
			}
			if holdsFunc(info.TypeOf(n)) {
				c.report(n.Pos(), "global", "package-level var %s holds a function value made by a call when the package is initialized: the state it captures (a closure's variables, sync.OnceValue's result) is shared by every instance of the domain; use a declared function or a function literal, and keep state in values the domain creates", name)
				return false
			}
		case *ast.SelectorExpr:
			if sel := info.Selections[n]; sel != nil && sel.Kind() == types.MethodVal {
				c.report(n.Pos(), "global", "package-level var %s holds the method value %s, bound to its receiver, which every instance of the domain would share; use a method expression or a function literal", name, n.Sel.Name)
				return false
			}
		}
		return true
	})
}

// holdsFunc reports whether values of t hold function values (directly, or
// in fields, elements or what they point to).
func holdsFunc(t types.Type) bool {
	return holdsFuncSeen(t, make(map[types.Type]bool))
}

func holdsFuncSeen(t types.Type, seen map[types.Type]bool) bool {
	if t == nil || seen[t] {
		return false
	}
	seen[t] = true
	switch u := t.Underlying().(type) {
	case *types.Signature:
		return true
	case *types.Tuple:
		for i := range u.Len() {
			if holdsFuncSeen(u.At(i).Type(), seen) {
				return true
			}
		}
	case *types.Pointer:
		return holdsFuncSeen(u.Elem(), seen)
	case *types.Slice:
		return holdsFuncSeen(u.Elem(), seen)
	case *types.Array:
		return holdsFuncSeen(u.Elem(), seen)
	case *types.Map:
		return holdsFuncSeen(u.Key(), seen) || holdsFuncSeen(u.Elem(), seen)
	case *types.Struct:
		for i := range u.NumFields() {
			if holdsFuncSeen(u.Field(i).Type(), seen) {
				return true
			}
		}
	}
	return false
}

// checkInterfaceValue reports an interface-typed package-level variable
// v (a sentinel error, typically) initialized with a value whose methods
// could change it: a pointer to a type of domain code, a value of such a
// type holding references, or what a function of domain code returns,
// which the checker cannot see. The escape rule lets error values be
// passed around freely, so whatever their Error method changes would be
// shared by every instance.
func (c *domainCheck) checkInterfaceValue(init ast.Expr, v *types.Var) {
	if !types.IsInterface(v.Type()) {
		return
	}
	info := c.pass.TypesInfo
	t := info.TypeOf(init)
	if t == nil || isNil(info, init) {
		return
	}
	if types.IsInterface(t) {
		call, ok := ast.Unparen(init).(*ast.CallExpr)
		if !ok {
			return // another variable, checked where it is declared
		}
		fn, ok := typeutil.Callee(info, call).(*types.Func)
		if ok && fn.Pkg() != nil && fn.Pkg() != c.pass.Pkg && isStandard(fn.Pkg().Path()) {
			return // errors.New, fmt.Errorf: immutable by contract
		}
		c.report(init.Pos(), "global", "package-level var %s holds what a function of domain code returns: the checker cannot tell that its methods (Error) change nothing, and every instance of the domain shares it; use errors.New or fmt.Errorf", v.Name())
		return
	}
	elem := t
	if p, ok := t.Underlying().(*types.Pointer); ok {
		elem = p.Elem()
	}
	n, ok := types.Unalias(elem).(*types.Named)
	if !ok || n.Obj().Pkg() == nil || isStandard(n.Obj().Pkg().Path()) && n.Obj().Pkg() != c.pass.Pkg {
		return
	}
	if _, ok := immutablePointee(t); ok {
		return
	}
	if isPointer(t) || containsRef(t) {
		c.report(init.Pos(), "global", "package-level var %s holds a %s: its methods (Error) can change what every instance of the domain shares; use errors.New, fmt.Errorf or a value type without references", v.Name(), types.TypeString(t, types.RelativeTo(c.pass.Pkg)))
	}
}

// isNil reports whether e is the predeclared nil.
func isNil(info *types.Info, e ast.Expr) bool {
	tv, ok := info.Types[e]
	return ok && tv.IsNil()
}
