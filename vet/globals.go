package vet

import (
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/ast/edge"
	"golang.org/x/tools/go/ast/inspector"
	"golang.org/x/tools/go/types/typeutil"
)

// The global rule. Every instance of a domain runs the same package, so its
// package-level variables are state they all share: one instance could
// change what another sees, and a domain's death could not reclaim it. So
// are the standard library's: unicode.Upper, base64.StdEncoding and
// time.UTC are used by the kernel and every domain. A package-level
// variable is therefore fine only if, after its declaration, nothing
// changes it.
//
// For each use of a package-level variable (of this package or an imported
// one) the checker follows the access path that stays inside the variable's
// storage, through field selections, indexing, slicing and dereferences
// (v, v.f, v[i], v[i:j], *v, and through a map, slice or pointer the storage
// it refers to), and rejects the path as
//
//   - written: assigned (also as a range key or value), incremented or
//     decremented, address taken (&v, or a method with a pointer receiver
//     called on it, which is how package-level mutexes are caught), appended
//     to, copied into, deleted from, cleared, closed, sent on or received
//     from;
//   - escaping: a value holding a reference into the variable's storage (a
//     map, slice, channel, pointer or non-error interface, or a struct or
//     array with one inside) is copied (t := unicode.Upper), passed to a
//     function, used as a method receiver (also a value receiver: the copy
//     shares the maps and pointers the variable holds), or its
//     reference-typed elements are ranged over, because whoever holds such
//     a reference can change the shared storage. Comparisons, len and cap,
//     copies of plain values and the read-only functions of readOnlyFuncs
//     are fine.
//
// Pointers to immutableTypes (a compiled regexp, time.UTC,
// base64.StdEncoding) may be copied and passed, since their methods change
// nothing; writing through one (*p = ...) is refused anywhere, as p may be
// such a shared table.
//
// Package-level state can also hide in code and in what it was made with
// (checkInitializers):
//
//   - a function value in a package-level variable must be a function
//     literal or a declared function: one made by a call (a closure over
//     the call's locals, sync.OnceValue's and sync.OnceFunc's results) or a
//     method value (bound to its receiver) holds state that every instance
//     would share;
//   - an interface-typed package-level variable (a sentinel error) must hold
//     a value of the standard library's (errors.New, fmt.Errorf) or of a
//     type holding no reference, not a pointer to a type of the domain's,
//     whose methods (Error) could change it for everyone.
//
// Sentinel errors (error values), constants, tables filled in their
// declaration and only read, and pointers to immutableTypes are fine.
//
// Not tracked: references handed out by methods or functions of an
// immutable type or in readOnlyFuncs.

// whyShared ends every global diagnostic.
const whyShared = "package-level variables are shared by every instance of the domain; keep mutable state in values the domain creates"

// immutableTypes are types whose values nothing can change after
// construction through their exported API; pointers to them may be shared.
var immutableTypes = map[string]bool{
	"regexp.Regexp":            true, // safe for concurrent use (except Longest, a configuration call)
	"strings.Replacer":         true,
	"time.Location":            true,
	"encoding/base64.Encoding": true,
}

// readOnlyFuncs neither change their arguments nor hand out references to
// them, so a package-level table may be passed to them.
var readOnlyFuncs = map[string]bool{
	"hash/crc32.Checksum": true, // with crc32.IEEETable
	"hash/crc32.Update":   true,
	"hash/crc32.New":      true, // the hash holds the table and only reads it
	"slices.Contains":     true,
	"slices.Index":        true,
	"slices.Equal":        true,
	"slices.BinarySearch": true,
	"strings.Join":        true,
	"bytes.Equal":         true,
	"unicode.Is":          true,
	"unicode.In":          true,
	"unicode.IsOneOf":     true,
}

// stateless are package-level variables of allowed standard packages
// whose values hold no state, though their type says they could.
var stateless = map[string]bool{
	"io.Discard": true, // a discard{}
}

// checkGlobals applies the global rule to the given files.
func (c *domainCheck) checkGlobals(files []inspector.Cursor) {
	for _, fc := range files {
		for cur := range fc.Preorder((*ast.AssignStmt)(nil)) {
			c.checkImmutableWrite(cur.Node().(*ast.AssignStmt))
		}
		for cur := range fc.Preorder((*ast.Ident)(nil)) {
			v, ok := c.pass.TypesInfo.Uses[cur.Node().(*ast.Ident)].(*types.Var)
			if !ok || v.IsField() || v.Pkg() == nil || v.Parent() != v.Pkg().Scope() {
				continue
			}
			if cur.ParentEdgeKind() == edge.SelectorExpr_Sel {
				cur = cur.Parent() // a qualified identifier, pkg.V
			}
			c.checkGlobalUse(v, cur)
		}
	}
}

// checkGlobalUse checks one use of package-level variable v at cur.
func (c *domainCheck) checkGlobalUse(v *types.Var, cur inspector.Cursor) {
	info := c.pass.TypesInfo
	own := v.Pkg() == c.pass.Pkg
	name := v.Name()
	if !own {
		name = v.Pkg().Name() + "." + name
	}
	pos := cur.Node().Pos()

	// Climb the access path inside v's storage.
path:
	for {
		switch cur.ParentEdgeKind() {
		case edge.ParenExpr_X, edge.IndexExpr_X, edge.StarExpr_X, edge.SliceExpr_X:
		case edge.SelectorExpr_X:
			if sel := info.Selections[cur.Parent().Node().(*ast.SelectorExpr)]; sel == nil || sel.Kind() != types.FieldVal {
				break path
			}
		default:
			break path
		}
		cur = cur.Parent()
	}
	if cur.ParentEdgeKind() == edge.AssignStmt_Rhs && assignedToBlank(cur) {
		return // _ = v
	}
	t := info.TypeOf(cur.Node().(ast.Expr))

	written := func(verb string) {
		c.report(pos, "global", "%s package-level var %s: %s", verb, name, whyShared)
	}
	escapes := func(how string) {
		if containsRef(t) && (own || !stateless[v.Pkg().Path()+"."+v.Name()]) {
			c.report(pos, "global", "lets a reference into package-level var %s (%s) escape, %s: %s",
				name, types.TypeString(t, types.RelativeTo(c.pass.Pkg)), how, whyShared)
		}
	}

	parent := cur.Parent().Node()
	switch cur.ParentEdgeKind() {
	case edge.AssignStmt_Lhs, edge.RangeStmt_Key, edge.RangeStmt_Value:
		written("assigns to")
	case edge.IncDecStmt_X:
		if parent.(*ast.IncDecStmt).Tok == token.INC {
			written("increments")
		} else {
			written("decrements")
		}
	case edge.UnaryExpr_X:
		switch parent.(*ast.UnaryExpr).Op {
		case token.AND:
			written("takes the address of")
		case token.ARROW:
			written("receives from")
		default:
			escapes("copied")
		}
	case edge.SendStmt_Chan:
		written("sends on")
	case edge.BinaryExpr_X, edge.BinaryExpr_Y:
		// a comparison: reading
	case edge.RangeStmt_X:
		rs := parent.(*ast.RangeStmt)
		if _, ok := t.Underlying().(*types.Chan); ok {
			written("receives from")
		} else if bindsRef(info, rs.Key) || bindsRef(info, rs.Value) {
			escapes("by ranging over its reference-typed elements")
		}
	case edge.SelectorExpr_X: // a method, as the path stops at fields
		sel := info.Selections[parent.(*ast.SelectorExpr)]
		fn, _ := sel.Obj().(*types.Func)
		if fn == nil {
			break
		}
		if isPointer(fn.Signature().Recv().Type()) && !isPointer(t) && !types.IsInterface(t) {
			c.report(pos, "global", "takes the address of package-level var %s, calling pointer method %s: %s", name, fn.Name(), whyShared)
		} else {
			escapes("as the receiver of method " + fn.Name())
		}
	case edge.CallExpr_Args:
		c.checkGlobalArg(parent.(*ast.CallExpr), cur.ParentEdgeIndex(), written, escapes)
	default:
		escapes("copied")
	}
}

// checkGlobalArg checks a package-level variable's path passed as argument
// i of call.
func (c *domainCheck) checkGlobalArg(call *ast.CallExpr, i int, written, escapes func(string)) {
	info := c.pass.TypesInfo
	switch fn := typeutil.Callee(info, call).(type) {
	case *types.Builtin:
		switch fn.Name() {
		case "len", "cap":
		case "delete":
			written("deletes from")
		case "clear":
			written("clears")
		case "close":
			written("closes")
		case "append":
			if i == 0 {
				written("appends to")
			} else if !call.Ellipsis.IsValid() {
				escapes("appended")
			}
		case "copy":
			if i == 0 {
				written("copies into")
			}
		default:
			escapes("passed to " + fn.Name())
		}
	case *types.Func:
		if name := fn.Origin().FullName(); !readOnlyFuncs[name] {
			escapes("passed to " + name)
		}
	default:
		if tv, ok := info.Types[call.Fun]; ok && tv.IsType() {
			if refType(info.TypeOf(call)) {
				escapes("converted")
			}
		} else {
			escapes("passed to a function value")
		}
	}
}

// assignedToBlank reports whether the right-hand side at cur is assigned
// to the blank identifier.
func assignedToBlank(cur inspector.Cursor) bool {
	as := cur.Parent().Node().(*ast.AssignStmt)
	if i := cur.ParentEdgeIndex(); len(as.Lhs) == len(as.Rhs) {
		id, ok := as.Lhs[i].(*ast.Ident)
		return ok && id.Name == "_"
	}
	return false
}

// bindsRef reports whether a range key or value expression binds a
// reference-typed element to a variable.
func bindsRef(info *types.Info, e ast.Expr) bool {
	if e == nil {
		return false
	}
	if id, ok := e.(*ast.Ident); ok && id.Name == "_" {
		return false
	}
	t := info.TypeOf(e)
	return t != nil && refType(t)
}

// refType reports whether values of t refer to storage that can be changed
// through them: maps, slices, channels, pointers (but to immutableTypes) and
// interfaces (but error, whose values are by convention immutable).
func refType(t types.Type) bool {
	switch u := t.Underlying().(type) {
	case *types.Slice, *types.Map, *types.Chan:
		return true
	case *types.Pointer:
		if n, ok := types.Unalias(u.Elem()).(*types.Named); ok && n.Obj().Pkg() != nil {
			return !immutableTypes[n.Obj().Pkg().Path()+"."+n.Obj().Name()]
		}
		return true
	case *types.Interface:
		return !types.Identical(t, types.Universe.Lookup("error").Type())
	}
	return false
}

// containsRef reports whether values of t hold references to storage that
// can be changed through them: refType, or a struct or array with such a
// field or element.
func containsRef(t types.Type) bool {
	return containsRefSeen(t, make(map[types.Type]bool))
}

func containsRefSeen(t types.Type, seen map[types.Type]bool) bool {
	if refType(t) {
		return true
	}
	if seen[t] {
		return false
	}
	seen[t] = true
	switch u := t.Underlying().(type) {
	case *types.Struct:
		for i := range u.NumFields() {
			if containsRefSeen(u.Field(i).Type(), seen) {
				return true
			}
		}
	case *types.Array:
		return containsRefSeen(u.Elem(), seen)
	}
	return false
}

// immutablePointee returns the name of the immutable type p points to, if
// it is a pointer to one.
func immutablePointee(p types.Type) (string, bool) {
	ptr, ok := p.Underlying().(*types.Pointer)
	if !ok {
		return "", false
	}
	n, ok := types.Unalias(ptr.Elem()).(*types.Named)
	if !ok || n.Obj().Pkg() == nil {
		return "", false
	}
	name := n.Obj().Pkg().Path() + "." + n.Obj().Name()
	return name, immutableTypes[name]
}

// checkImmutableWrite reports assignments through a pointer to an
// immutable type: it may point to a table every domain shares (time.UTC).
func (c *domainCheck) checkImmutableWrite(as *ast.AssignStmt) {
	for _, lhs := range as.Lhs {
		star, ok := ast.Unparen(lhs).(*ast.StarExpr)
		if !ok {
			continue
		}
		if c.packageVar(star.X) {
			continue // the global rule reports it as a write of the variable
		}
		if name, ok := immutablePointee(c.pass.TypesInfo.TypeOf(star.X)); ok {
			c.report(star.Pos(), "global", "writes through a pointer to %s: it may point to a value every domain and the kernel share (such as time.UTC or base64.StdEncoding), which nothing may change", name)
		}
	}
}

// packageVar reports whether e names a package-level variable.
func (c *domainCheck) packageVar(e ast.Expr) bool {
	var id *ast.Ident
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		id = e
	case *ast.SelectorExpr:
		id = e.Sel
	default:
		return false
	}
	v, ok := c.pass.TypesInfo.Uses[id].(*types.Var)
	return ok && !v.IsField() && v.Pkg() != nil && v.Parent() == v.Pkg().Scope()
}

func isPointer(t types.Type) bool {
	_, ok := t.Underlying().(*types.Pointer)
	return ok
}
