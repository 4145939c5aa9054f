package vet

import (
	"go/ast"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/ast/edge"
	"golang.org/x/tools/go/ast/inspector"
	"golang.org/x/tools/go/types/typeutil"
)

// The api rule. Domains import four packages of the kernel (the import
// rule denies the others) whose exported names are partly kernel-only: the
// functions that move cells between accounts (rref.Move, Lend, Rescue...),
// make managers, accounts or pools, bind capabilities or replace proxies
// (domain.Connect, RegisterProxy), or forge DMA buffers (hw.NewBuffer).
// kernelAPI is what domains may name of them, by exported name: a
// package-level name, or Type.Name for a method or field. Everything else
// of kernel/... is refused where a domain names it, whatever the spelling
// (call, function value, method value or expression, embedding, type
// argument), because the name is what the type checker resolves.
//
// A name not on the list is kernel-only until someone adds it here, in
// the checker's source, with the reason it gives a domain nothing it was
// not granted.
var kernelAPI = map[string][]string{
	"kernel/domain": {
		// A domain instance's view of the kernel: its grants, its heap
		// account (for allocating), its threads, its log and its clock.
		"Context", "Context.Check", "Context.Done", "Context.Heap", "Context.ID", "Context.Logf",
		"Context.Name", "Context.Sleep", "Context.Spawn",
		// Registering the domain's kind, from its package's init function
		// only (see the register rule below).
		"Register",
		// The kinds compiled into the image (Rv6's sh lists its programs):
		// fixed when the image is built, so reading them is no authority.
		"Kinds",
		// Facts a kind's own package declares at registration (Rv6
		// programs: the capabilities they need, which sh passes without
		// grant), and reading them: fixed when the image is built, made
		// only by the kind's package in its init, so no authority.
		"Declare", "Declared",
		// Taking what it was granted.
		"Import", "Device", "TakeRRef", "ErrNoGrant",
		// Reading why a callee failed.
		"ErrTerminated", "ID",
		"FailedError", "FailedError.Error", "FailedError.Unwrap",
		"FailedError.Domain", "FailedError.ID", "FailedError.Value", "FailedError.Where", "FailedError.Stack",
		"DeadlineError", "DeadlineError.Error", "DeadlineError.Call", "DeadlineError.After",
	},
	"kernel/rref": {
		// Handles and their methods: every check is on the handle.
		"RRef", "RRef.Borrow", "RRef.Drop", "RRef.Get", "RRef.Owner", "RRef.Valid",
		"Borrow", "Borrow.Get", "Borrow.Valid",
		"Deque", "Deque.At", "Deque.Cap", "Deque.Drop", "Deque.Len", "Deque.Owner", "Deque.PopBack",
		"Deque.PopFront", "Deque.PushBack", "Deque.PushFront", "Deque.Valid",
		// Allocating on the domain's own account (Context.Heap), from a
		// granted pool, and dropping.
		"New", "NewDeque", "Discard", "DiscardDeque",
		"Pool", "Pool.Get", "Pool.Cap", "Pool.Free", "Pool.String",
		// An account, as Context.Heap returns it: naming it, not closing it.
		"Account", "Account.ID", "Account.Name", "Account.String", "Account.Held",
		// The panic value of a misuse of a handle.
		"UseError", "UseError.Error", "UseError.Op", "UseError.Type", "UseError.Reason",
	},
	"kernel/faults": {
		// The fault point a domain calls at the entry of its IDL methods;
		// arming faults (Injector) is the kernel's.
		"From", "Device", "Device.Point", "Grant",
	},
	"kernel/hw": {
		// A granted device's registers and DMA memory, bounds-checked.
		// Not NewBuffer: a Buffer claims a physical address that the
		// device will write to.
		"Regs", "Regs.Len", "Regs.Read32", "Regs.Write32", "Read64", "Write64",
		"DMA", "DMA.Alloc",
		"PCIDevice", "PCIDevice.Addr", "PCIDevice.IDs", "PCIDevice.BAR", "PCIDevice.DMA", "PCIDevice.Command",
		"CmdIO", "CmdMemory", "CmdBusMaster", "CmdINTxDisable", "ErrNoBusMaster",
		"Buffer", "Buffer.Bytes", "Buffer.CopyIn", "Buffer.CopyOut", "Buffer.Get8", "Buffer.Get16",
		"Buffer.Get32", "Buffer.Get64", "Buffer.Len", "Buffer.Load32", "Buffer.Phys", "Buffer.PhysAt",
		"Buffer.Put8", "Buffer.Put16", "Buffer.Put32", "Buffer.Put64", "Buffer.Store32", "Buffer.Sub",
		"Buffer.Zero",
	},
}

// kernelAllowed is kernelAPI as a set of "import/path.Name" and
// "import/path.Type.Name".
var kernelAllowed = func() map[string]bool {
	m := make(map[string]bool)
	for pkg, names := range kernelAPI {
		for _, n := range names {
			m[modulePath+"/"+pkg+"."+n] = true
		}
	}
	return m
}()

// registerFunc is the function that registers a domain kind.
const registerFunc = kernelRing + "/domain.Register"

// registers is the object fact of functions that register a domain kind:
// domain.Register's callers, and theirs (rv6/ulib.Register). They obey
// domain.Register's rule.
type registers struct{}

func (*registers) AFact()         {}
func (*registers) String() string { return "registers" }

// kernelName returns the name of a kernel object for kernelAPI, and
// whether obj belongs to the kernel at all.
func (c *domainCheck) kernelName(obj types.Object) (string, bool) {
	if obj.Pkg() == nil || !inTree(obj.Pkg().Path(), kernelRing) {
		return "", false
	}
	prefix := obj.Pkg().Path() + "."
	switch obj := obj.(type) {
	case *types.Func:
		if recv := obj.Origin().Signature().Recv(); recv != nil {
			return prefix + typeName(recv.Type()) + "." + obj.Name(), true
		}
	case *types.Var:
		if obj.IsField() {
			return prefix + c.fieldOwner(obj.Origin()) + "." + obj.Name(), true
		}
	}
	return prefix + obj.Name(), true
}

// typeName names a receiver type: the named type it is, or points to.
func typeName(t types.Type) string {
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	if n, ok := types.Unalias(t).(*types.Named); ok {
		return n.Origin().Obj().Name()
	}
	return "?"
}

// fieldOwner names the struct type of the kernel's that declares field f.
func (c *domainCheck) fieldOwner(f *types.Var) string {
	if c.fields == nil {
		c.fields = make(map[*types.Var]string)
	}
	if name, ok := c.fields[f]; ok {
		return name
	}
	scope := f.Pkg().Scope()
	for _, name := range scope.Names() {
		tn, ok := scope.Lookup(name).(*types.TypeName)
		if !ok {
			continue
		}
		if st, ok := tn.Type().Underlying().(*types.Struct); ok {
			for i := range st.NumFields() {
				c.fields[st.Field(i)] = name
			}
		}
	}
	if _, ok := c.fields[f]; !ok {
		c.fields[f] = "?"
	}
	return c.fields[f]
}

// checkKernelAPI applies the api rule to one identifier of domain code.
func (c *domainCheck) checkKernelAPI(cur inspector.Cursor) {
	id := cur.Node().(*ast.Ident)
	obj := c.pass.TypesInfo.Uses[id]
	if obj == nil {
		return
	}
	name, ok := c.kernelName(obj)
	if !ok {
		if fn, ok := obj.(*types.Func); ok && c.pass.ImportObjectFact(fn.Origin(), new(registers)) {
			c.checkRegisterCall(cur, fn.FullName())
		}
		return
	}
	if !kernelAllowed[name] {
		short := strings.TrimPrefix(name, modulePath+"/")
		c.report(id.Pos(), "api", "domains may not use %s: it is kernel-only API, not on the list of what domains may name (vet/kernelapi.go)", short)
		return
	}
	if name == registerFunc {
		c.checkRegisterCall(cur, "domain.Register")
	}
}

// checkRegisterCall checks a use of a function that registers a domain
// kind: it must be called, from the package-level init function of the
// package or from a function that is itself only called so, and what it
// is given must not hold state made in that function. Kinds are then all
// registered before the kernel starts the first domain, each by the
// package that defines it, and a constructor cannot share anything between
// the instances it makes but package-level state, which the global rule
// checks.
func (c *domainCheck) checkRegisterCall(cur inspector.Cursor, name string) {
	// Climb from the name to the call: pkg.F, F[T], (F).
	for {
		switch cur.ParentEdgeKind() {
		case edge.SelectorExpr_Sel, edge.IndexExpr_X, edge.IndexListExpr_X, edge.ParenExpr_X:
			cur = cur.Parent()
			continue
		}
		break
	}
	if cur.ParentEdgeKind() != edge.CallExpr_Fun {
		c.report(cur.Node().Pos(), "api", "%s registers a domain kind: call it (not take its value) from the package's init function, so that every kind is registered before the first domain starts", name)
		return
	}
	call := cur.Parent()
	encl, lit := enclosingFunc(call)
	if lit != nil {
		c.report(call.Node().Pos(), "api", "%s registers a domain kind: call it in the package's init function, not in a function literal that could run later", name)
		return
	}
	if encl == nil || !c.isRegistering(encl) {
		c.report(call.Node().Pos(), "api", "%s registers a domain kind: call it from the package's init function only, so that every kind is registered before the first domain starts and by the package that defines it", name)
		return
	}
	for _, arg := range call.Node().(*ast.CallExpr).Args {
		c.checkRegisterArg(arg, encl, name)
	}
}

// enclosingFunc returns the function declaration around cur, and the
// innermost function literal between them, if any.
func enclosingFunc(cur inspector.Cursor) (*ast.FuncDecl, *ast.FuncLit) {
	var lit *ast.FuncLit
	for p := cur.Parent(); p.Node() != nil; p = p.Parent() {
		switch n := p.Node().(type) {
		case *ast.FuncLit:
			if lit == nil {
				lit = n
			}
		case *ast.FuncDecl:
			return n, lit
		}
	}
	return nil, lit
}

// isInit reports whether fd is a package-level init function.
func isInit(fd *ast.FuncDecl) bool {
	return fd.Recv == nil && fd.Name.Name == "init"
}

// isRegistering reports whether fd may call a registering function: it is
// init, or registers itself (its callers are checked in turn).
func (c *domainCheck) isRegistering(fd *ast.FuncDecl) bool {
	if isInit(fd) {
		return true
	}
	fn, ok := c.pass.TypesInfo.Defs[fd.Name].(*types.Func)
	return ok && c.pass.ImportObjectFact(fn, new(registers))
}

// checkRegisterArg checks one argument of a registering call in fd: a value
// of a reference type (a constructor, a channel, a map) must not be made or
// captured from fd's local variables (but its parameters, checked at its
// own call sites), or every instance the constructor makes would share it.
func (c *domainCheck) checkRegisterArg(arg ast.Expr, fd *ast.FuncDecl, name string) {
	info := c.pass.TypesInfo
	t := info.TypeOf(arg)
	if t == nil {
		return
	}
	if _, basic := t.Underlying().(*types.Basic); basic {
		return // a name: strings carry no state
	}
	local := func(v *types.Var) bool {
		return v.Pos() >= fd.Pos() && v.Pos() < fd.End() && !isParam(fd, v, info)
	}
	switch a := ast.Unparen(arg).(type) {
	case *ast.Ident:
		if v, ok := info.Uses[a].(*types.Var); ok && local(v) {
			c.report(a.Pos(), "global", "%s is given %s, a local variable of %s: every instance of the domain would share what it holds; %s", name, a.Name, fd.Name.Name, whyShared)
		}
		return
	case *ast.SelectorExpr:
		if _, ok := info.Uses[a.Sel].(*types.Func); ok && info.Selections[a] == nil {
			return // pkg.F
		}
	case *ast.FuncLit:
		ast.Inspect(a.Body, func(n ast.Node) bool {
			id, ok := n.(*ast.Ident)
			if !ok {
				return true
			}
			if v, ok := info.Uses[id].(*types.Var); ok && local(v) && (v.Pos() < a.Pos() || v.Pos() >= a.End()) {
				c.report(id.Pos(), "global", "the constructor given to %s captures %s, a local variable of %s: every instance of the domain would share it; %s", name, id.Name, fd.Name.Name, whyShared)
			}
			return true
		})
		return
	}
	c.report(arg.Pos(), "global", "%s is given a %s made when %s runs: every instance of the domain would share it; pass a function (a constructor makes each instance's state)", name, types.TypeString(t, types.RelativeTo(c.pass.Pkg)), fd.Name.Name)
}

// isParam reports whether v is a parameter or result of fd.
func isParam(fd *ast.FuncDecl, v *types.Var, info *types.Info) bool {
	for _, list := range []*ast.FieldList{fd.Type.Params, fd.Type.Results, fd.Recv} {
		if list == nil {
			continue
		}
		for _, f := range list.List {
			for _, n := range f.Names {
				if info.Defs[n] == v {
					return true
				}
			}
		}
	}
	return false
}

// exportRegisters records the registers fact of the package's functions
// that call a registering function (directly, or through one another).
// Methods never get it: a method can be called through an interface, whose
// callers the checker cannot find, so a method that registers is refused.
func exportRegisters(pass *analysis.Pass) {
	info := pass.TypesInfo
	var decls []*ast.FuncDecl
	for _, f := range pass.Files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil && fd.Recv == nil && !isInit(fd) {
				decls = append(decls, fd)
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for _, fd := range decls {
			fn, ok := info.Defs[fd.Name].(*types.Func)
			if !ok || pass.ImportObjectFact(fn, new(registers)) {
				continue
			}
			found := false
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || found {
					return !found
				}
				if callee, ok := typeutil.Callee(info, call).(*types.Func); ok {
					callee = callee.Origin()
					if callee.FullName() == registerFunc || callee.Pkg() != nil && pass.ImportObjectFact(callee, new(registers)) {
						found = true
					}
				}
				return true
			})
			if found {
				pass.ExportObjectFact(fn, new(registers))
				changed = true
			}
		}
	}
}

// A kernelMethod is a method of a kernel type that domains may not name.
type kernelMethod struct {
	name string // import/path.Type.Method
	sig  *types.Signature
}

// deniedMethods returns, by method name, the methods of the types of the
// kernel packages this package reaches through its imports that are not on
// kernelAPI. Formatting methods (String, Error, Unwrap) are left out: they
// change nothing, and every error and Stringer interface has them.
func (c *domainCheck) deniedMethods() map[string][]kernelMethod {
	denied := make(map[string][]kernelMethod)
	seen := make(map[*types.Package]bool)
	var visit func(p *types.Package)
	visit = func(p *types.Package) {
		if seen[p] {
			return
		}
		seen[p] = true
		for _, imp := range p.Imports() {
			visit(imp)
		}
		if !inTree(p.Path(), kernelRing) {
			return
		}
		scope := p.Scope()
		for _, name := range scope.Names() {
			tn, ok := scope.Lookup(name).(*types.TypeName)
			if !ok || tn.IsAlias() {
				continue
			}
			for _, sel := range typeutil.IntuitiveMethodSet(tn.Type(), nil) {
				fn := sel.Obj().(*types.Func)
				switch fn.Name() {
				case "String", "Error", "Unwrap":
					continue
				}
				if !fn.Exported() || fn.Pkg() != p {
					continue
				}
				full := p.Path() + "." + name + "." + fn.Name()
				if !kernelAllowed[full] {
					denied[fn.Name()] = append(denied[fn.Name()], kernelMethod{full, fn.Signature()})
				}
			}
		}
	}
	visit(c.pass.Pkg)
	return denied
}

// checkKernelInterfaces reports the methods of interface types written in
// the files that kernel-only methods would satisfy: asserting a kernel
// value (the *rref.Account of Context.Heap) to interface{ Close() int }
// would call rref.Account.Close without naming it.
func (c *domainCheck) checkKernelInterfaces(files []inspector.Cursor) {
	var denied map[string][]kernelMethod
	for _, fc := range files {
		for cur := range fc.Preorder((*ast.InterfaceType)(nil)) {
			it, ok := c.pass.TypesInfo.TypeOf(cur.Node().(*ast.InterfaceType)).Underlying().(*types.Interface)
			if !ok {
				continue
			}
			if denied == nil {
				denied = c.deniedMethods()
			}
			for m := range it.Methods() {
				for _, k := range denied[m.Name()] {
					if types.Identical(m.Signature(), k.sig) {
						c.report(m.Pos(), "api", "interface method %s has the signature of the kernel-only method %s: a kernel value asserted to this interface would call it without naming it", m.Name(), strings.TrimPrefix(k.name, modulePath+"/"))
						break
					}
				}
			}
		}
	}
}
