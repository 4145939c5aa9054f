package main

import (
	"cmp"
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/tools/go/packages"
)

// rrefPath is the package of the shared-heap types the IDL knows.
const rrefPath = "github.com/rlgo/redleaf/kernel/rref"

// initDirective marks a method whose successful calls shadows replay.
const initDirective = "//idl:init"

// skipDirective, in an interface's doc comment, keeps it out of the IDL.
const skipDirective = "//idl:skip"

// A kind is how a value crosses a boundary.
type kind int

const (
	plainKind  kind = iota // copied
	rrefKind               // rref.RRef[T]: moved
	dequeKind              // rref.Deque[T]: moved, one CAS for the batch
	borrowKind             // rref.Borrow[T]: lent for the call
	capKind                // an IDL interface: rebound for the receiver
)

// A value is a parameter or a result (the trailing error excluded).
type value struct {
	name string // a0, a1, ... or r0, r1, ...
	typ  string // its type, as Go source in the IDL package
	zero string // its zero value, as Go source
	kind kind
}

type method struct {
	name    string
	params  []value
	results []value
	init    bool
}

type iface struct {
	name    string
	methods []method
}

// A problem is a rejected declaration.
type problem struct {
	pos token.Position
	msg string
}

func (p problem) String() string { return fmt.Sprintf("%s: %s", p.pos, p.msg) }

// model checks the interfaces of p and describes them for the emitter.
type model struct {
	pkg      *packages.Package
	dir      string                   // positions are reported relative to it
	out      string                   // the generated file, ignored
	ifaces   []*iface                 // in declaration order
	idl      map[*types.TypeName]bool // the interfaces being generated
	imports  map[string]string        // path -> name of packages the types need
	problems []problem
}

func newModel(p *packages.Package, dir, out string) *model {
	m := &model{pkg: p, dir: dir, out: out, idl: map[*types.TypeName]bool{}, imports: map[string]string{}}
	docs := m.methodDocs()
	type decl struct {
		obj  *types.TypeName
		spec *ast.TypeSpec
	}
	var decls []decl
	for _, f := range p.Syntax {
		if filepath.Base(p.Fset.File(f.Pos()).Name()) == out {
			continue
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, s := range gd.Specs {
				ts := s.(*ast.TypeSpec)
				if _, ok := ts.Type.(*ast.InterfaceType); !ok || !ts.Name.IsExported() {
					continue
				}
				doc := ts.Doc
				if doc == nil && len(gd.Specs) == 1 {
					doc = gd.Doc
				}
				if hasDirective(doc, skipDirective) {
					continue
				}
				obj, _ := p.TypesInfo.Defs[ts.Name].(*types.TypeName)
				if obj == nil {
					continue
				}
				if ts.TypeParams != nil {
					m.reject(ts.Pos(), "%s: generic interfaces cannot cross a domain boundary", ts.Name.Name)
					continue
				}
				m.idl[obj] = true
				decls = append(decls, decl{obj, ts})
			}
		}
	}
	for _, d := range decls {
		m.addInterface(d.obj, docs)
	}
	slices.SortFunc(m.problems, func(a, b problem) int {
		return cmp.Or(cmp.Compare(a.pos.Filename, b.pos.Filename), cmp.Compare(a.pos.Line, b.pos.Line), cmp.Compare(a.pos.Column, b.pos.Column))
	})
	return m
}

// methodDocs maps the position of every interface method name of the package
// to its doc comment.
func (m *model) methodDocs() map[token.Pos]*ast.CommentGroup {
	docs := map[token.Pos]*ast.CommentGroup{}
	for _, f := range m.pkg.Syntax {
		ast.Inspect(f, func(n ast.Node) bool {
			it, ok := n.(*ast.InterfaceType)
			if !ok {
				return true
			}
			for _, fld := range it.Methods.List {
				for _, name := range fld.Names {
					docs[name.Pos()] = fld.Doc
				}
			}
			return true
		})
	}
	return docs
}

func hasDirective(doc *ast.CommentGroup, directive string) bool {
	if doc == nil {
		return false
	}
	for _, c := range doc.List {
		if c.Text == directive || strings.HasPrefix(c.Text, directive+" ") {
			return true
		}
	}
	return false
}

func (m *model) reject(pos token.Pos, format string, args ...any) {
	p := m.pkg.Fset.Position(pos)
	if rel, err := filepath.Rel(m.dir, p.Filename); err == nil && !strings.HasPrefix(rel, "..") {
		p.Filename = rel
	}
	m.problems = append(m.problems, problem{p, fmt.Sprintf(format, args...)})
}

func (m *model) addInterface(obj *types.TypeName, docs map[token.Pos]*ast.CommentGroup) {
	it := obj.Type().Underlying().(*types.Interface)
	if !it.IsMethodSet() {
		m.reject(obj.Pos(), "%s: a constraint interface cannot cross a domain boundary", obj.Name())
		return
	}
	fs := make([]*types.Func, it.NumMethods())
	for i := range fs {
		fs[i] = it.Method(i)
	}
	slices.SortStableFunc(fs, func(a, b *types.Func) int { return cmp.Compare(a.Pos(), b.Pos()) })
	in := &iface{name: obj.Name()}
	for _, f := range fs {
		if mt, ok := m.method(obj.Name(), f, hasDirective(docs[f.Pos()], initDirective)); ok {
			in.methods = append(in.methods, mt)
		}
	}
	m.ifaces = append(m.ifaces, in)
}

func (m *model) method(iname string, f *types.Func, init bool) (method, bool) {
	where := iname + "." + f.Name()
	sig := f.Type().(*types.Signature)
	ok := true
	mt := method{name: f.Name(), init: init}
	res := sig.Results()
	if res.Len() == 0 || !types.Identical(res.At(res.Len()-1).Type(), types.Universe.Lookup("error").Type()) {
		m.reject(f.Pos(), "%s: the last result must be an error (a call can always fail: the callee may die)", where)
		ok = false
	}
	for i := range sig.Params().Len() {
		v := sig.Params().At(i)
		what := fmt.Sprintf("%s: parameter %s", where, nameOr(v, i))
		if sig.Variadic() && i == sig.Params().Len()-1 {
			m.reject(v.Pos(), "%s (%s): a variadic parameter is a slice, which would share the caller's memory", what, m.typeString(v.Type()))
			ok = false
			continue
		}
		k, why := m.classify(v.Type(), true)
		if why == "" && init && k != plainKind {
			why = "an //idl:init method takes plain data only: shadows replay its calls"
		}
		if why != "" {
			m.reject(v.Pos(), "%s (%s): %s", what, m.typeString(v.Type()), why)
			ok = false
			continue
		}
		mt.params = append(mt.params, value{fmt.Sprintf("a%d", i), m.typeString(v.Type()), m.zero(v.Type()), k})
	}
	for i := 0; i < res.Len()-1; i++ {
		v := res.At(i)
		k, why := m.classify(v.Type(), false)
		if why != "" {
			m.reject(v.Pos(), "%s: result %d (%s): %s", where, i, m.typeString(v.Type()), why)
			ok = false
			continue
		}
		mt.results = append(mt.results, value{fmt.Sprintf("r%d", i), m.typeString(v.Type()), m.zero(v.Type()), k})
	}
	return mt, ok // with every problem of the method reported
}

func nameOr(v *types.Var, i int) string {
	if v.Name() != "" && v.Name() != "_" {
		return v.Name()
	}
	return fmt.Sprint(i)
}

// allowed says what may cross, for the end of messages.
const allowed = "only plain data, rref.RRef, rref.Deque, rref.Borrow (as a parameter) and interfaces of the IDL package may cross a domain boundary"

// classify says how a parameter (param) or result of type t crosses, or
// why it may not.
func (m *model) classify(t types.Type, param bool) (kind, string) {
	if n, ok := types.Unalias(t).(*types.Named); ok {
		obj := n.Obj()
		if obj.Pkg() != nil && obj.Pkg().Path() == rrefPath {
			k, ok := map[string]kind{"RRef": rrefKind, "Deque": dequeKind, "Borrow": borrowKind}[obj.Name()]
			if !ok {
				return 0, fmt.Sprintf("rref.%s is not an IDL type; %s", obj.Name(), allowed)
			}
			if k == borrowKind && !param {
				return 0, "rref.Borrow can only be a parameter: a borrow ends with the call"
			}
			if why := m.plain(n.TypeArgs().At(0), ""); why != "" {
				return 0, fmt.Sprintf("its payload %s", why)
			}
			return k, ""
		}
		if _, ok := n.Underlying().(*types.Interface); ok {
			if m.idl[obj] {
				return capKind, ""
			}
			if obj.Pkg() == nil && obj.Name() == "error" {
				return 0, "an error value may point into the callee's memory; only the last result may be an error"
			}
			return 0, fmt.Sprintf("%s is not an interface of the IDL package; %s", obj.Name(), allowed)
		}
	}
	if why := m.plain(t, ""); why != "" {
		return 0, fmt.Sprintf("%s; %s", why, allowed)
	}
	return plainKind, ""
}

// plain returns why t is not plain data, or "".
func (m *model) plain(t types.Type, path string) string {
	at := ""
	if path != "" {
		at = " at " + path
	}
	switch u := types.Unalias(t).(type) {
	case *types.Named:
		if u.Obj().Pkg() != nil && u.Obj().Pkg().Path() == rrefPath {
			return fmt.Sprintf("holds an rref.%s%s: RRefs cross only as parameters or results of their own", u.Obj().Name(), at)
		}
		return m.plain(u.Underlying(), path)
	case *types.Basic:
		switch {
		case u.Kind() == types.Uintptr:
			return "holds a uintptr" + at + ", an address in disguise"
		case u.Kind() == types.UnsafePointer:
			return "holds an unsafe.Pointer" + at
		case u.Info()&(types.IsBoolean|types.IsNumeric|types.IsString) != 0:
			return ""
		}
		return fmt.Sprintf("holds a %s%s", u, at)
	case *types.Array:
		return m.plain(u.Elem(), path+"[]")
	case *types.Struct:
		for i := range u.NumFields() {
			f := u.Field(i)
			if why := m.plain(f.Type(), path+"."+f.Name()); why != "" {
				return why
			}
		}
		return ""
	case *types.Pointer:
		return "holds a pointer" + at
	case *types.Slice:
		return "holds a slice" + at
	case *types.Map:
		return "holds a map" + at
	case *types.Chan:
		return "holds a channel" + at
	case *types.Signature:
		return "holds a func" + at
	case *types.Interface:
		return "holds an interface" + at
	case *types.TypeParam:
		return "holds a type parameter" + at
	}
	return fmt.Sprintf("holds a %T%s", t, at)
}

// typeString is t as Go source in the IDL package; it records the imports.
func (m *model) typeString(t types.Type) string {
	return types.TypeString(t, func(p *types.Package) string {
		if p == m.pkg.Types {
			return ""
		}
		m.imports[p.Path()] = p.Name()
		return p.Name()
	})
}

// zero is the zero value of t as Go source.
func (m *model) zero(t types.Type) string {
	switch u := t.Underlying().(type) {
	case *types.Basic:
		switch {
		case u.Info()&types.IsBoolean != 0:
			return "false"
		case u.Info()&types.IsString != 0:
			return `""`
		}
		return "0"
	case *types.Interface:
		return "nil"
	}
	return m.typeString(t) + "{}"
}
