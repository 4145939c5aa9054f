package vet

import (
	"go/ast"
	"go/types"
	"path"
	"strconv"
	"strings"
)

// modulePath is this repository's module. Its packages are trusted kernel
// code unless importTable lists them as domain API or they are domains.
const modulePath = "github.com/rlgo/redleaf"

// An importRule says whether domains may import a package, and why not.
type importRule struct {
	allowed bool
	why     string // for denied packages: what the package would give the domain
}

var allow = importRule{allowed: true}

func deny(why string) importRule { return importRule{why: why} }

// importTable is the import allowlist of domains. A key is an import path,
// or a path followed by "/..." for it and everything under it (as in go list
// patterns); the exact key wins, then the nearest "/..." key. A standard
// package that is not listed is denied; so is any package outside this
// module, except packages marked //rl:domain (see isDomain).
//
// Allowed standard packages compute over values the domain holds: they reach
// no file, device, process or network, and start no goroutine that runs
// domain code (bannedFuncs removes the few functions that do).
var importTable = map[string]importRule{
	// Values, text and numbers.
	"errors":         allow,
	"fmt":            allow, // Fprint*/Sprint*/Errorf; Print*/Scan* are banned
	"strings":        allow,
	"strconv":        allow,
	"bytes":          allow,
	"unicode/...":    allow, // unicode, unicode/utf8, unicode/utf16
	"text/tabwriter": allow,
	"regexp/...":     allow,
	"path":           allow, // slash-separated names, no file system
	"cmp":            allow,
	"math/...":       allow, // math, math/bits, math/big, math/cmplx, math/rand/v2 (below: math/rand)
	"math/rand":      deny("its global source is state shared by every domain (rand.Seed changes it for all); use math/rand/v2"),

	// Collections and iteration.
	"sort":          allow,
	"slices":        allow,
	"maps":          allow,
	"iter":          allow, // iter.Pull runs the sequence as a coroutine of the caller: panics propagate to it
	"container/...": allow,

	// Encodings, checksums and hashes: pure functions of their input.
	"encoding/binary": allow,
	"encoding/hex":    allow,
	"encoding/base64": allow,
	"encoding/json":   allow, // uses reflect inside, but only through exported fields of values it is given
	"hash":            allow,
	"hash/crc32":      allow,
	"hash/crc64":      allow,
	"hash/adler32":    allow,
	"hash/fnv":        allow,
	"crypto/sha256":   allow,
	"crypto/sha512":   allow,
	"crypto/hmac":     allow,
	"crypto/subtle":   allow,
	"compress/...":    allow, // streams over readers and writers the domain was given

	// Streams, synchronisation and time.
	"io":          allow, // interfaces and helpers over readers/writers the domain was given
	"bufio":       allow,
	"sync":        allow, // Mutex etc. inside the domain's values; package-level ones are caught by the global rule; WaitGroup.Go is banned
	"sync/atomic": allow,
	"context":     allow, // context.AfterFunc is banned
	"time":        allow, // the clock, Sleep and timers; AfterFunc and LoadLocation are banned
	"embed":       allow, // data baked in at build time, read-only at run time

	// The domain-facing API of the kernel: IDL interfaces and shared heap.
	modulePath + "/idl/...":       allow,
	modulePath + "/kernel/rref":   allow,
	modulePath + "/kernel/domain": allow,
	// The domain side of the kernel's fault injector: faults.From and
	// Device.Point, which domains call at the entry of their IDL methods.
	// What a domain holds of it is only the Point of what it was granted;
	// arming faults (Injector.Arm) needs the kernel's *Injector, which no
	// domain is given.
	modulePath + "/kernel/faults": allow,
	// Typed register and DMA accessors of a granted device (hw.Regs,
	// hw.Buffer, hw.PCIDevice): the only way driver domains reach hardware,
	// bounds-checked, with no unsafe in the domain. The mapping, DMA
	// allocation and system calls stay in kernel/pci and kernel/dma.
	modulePath + "/kernel/hw": allow,

	// Denied with a reason, so that the diagnostic can say why. ("unsafe"
	// and "C" have rules of their own: see checkImport.)
	"os/...":               deny("it gives ambient authority over files, processes and the environment of the whole system"),
	"os/exec":              deny("it runs host programs: ambient authority"),
	"syscall":              deny("system calls bypass the kernel: ambient authority and raw memory"),
	"net/...":              deny("it opens network connections of the host: ambient authority; networking comes through IDL interfaces"),
	"plugin":               deny("it loads code the checker has not seen"),
	"reflect":              deny("it reads unexported fields, so it sees through the encapsulation that capabilities rely on (proxies, RRefs)"),
	"runtime/...":          deny("it controls the runtime shared by every domain and the kernel (GC, finalizers, Goexit, LockOSThread, GOMAXPROCS)"),
	"log/...":              deny("it writes to the process's standard error through a logger shared by every domain: ambient authority and shared state"),
	"path/filepath":        deny("Walk, Glob, Abs and EvalSymlinks reach the host file system; use path"),
	"flag":                 deny("it reads os.Args into flags shared by every domain"),
	"testing/...":          deny("it belongs in _test.go files, which are not checked"),
	"encoding/gob":         deny("its type registry is state shared by every domain"),
	"crypto/rand":          deny("it reads entropy from the host: ambient authority; take a random source as a capability"),
	"golang.org/x/sys/...": deny("system calls bypass the kernel: ambient authority and raw memory"),
}

// lookupImport finds the rule for an import path in importTable.
func lookupImport(p string) (importRule, bool) {
	if r, ok := importTable[p]; ok {
		return r, true
	}
	for q := p; q != "." && q != "/" && q != ""; q = path.Dir(q) {
		if r, ok := importTable[q+"/..."]; ok {
			return r, true
		}
	}
	return importRule{}, false
}

// isStandard reports whether an import path names a standard package: like
// the go command, it takes a first path element without a dot as standard.
func isStandard(p string) bool {
	first, _, _ := strings.Cut(p, "/")
	return !strings.Contains(first, ".")
}

// bannedFuncs are functions of allowed packages that domains may not use, by
// types.Func.FullName, with why.
var bannedFuncs = map[string]string{
	// Ambient authority: the process's standard streams.
	"fmt.Print":   "it writes to os.Stdout, ambient authority; use fmt.Fprint on a writer the domain was given",
	"fmt.Printf":  "it writes to os.Stdout, ambient authority; use fmt.Fprintf on a writer the domain was given",
	"fmt.Println": "it writes to os.Stdout, ambient authority; use fmt.Fprintln on a writer the domain was given",
	"fmt.Scan":    "it reads os.Stdin, ambient authority; use fmt.Fscan on a reader the domain was given",
	"fmt.Scanf":   "it reads os.Stdin, ambient authority; use fmt.Fscanf on a reader the domain was given",
	"fmt.Scanln":  "it reads os.Stdin, ambient authority; use fmt.Fscanln on a reader the domain was given",
	// Ambient authority: the host's files and environment.
	"time.LoadLocation": "it reads the host's zoneinfo files and environment, ambient authority; use time.LoadLocationFromTZData",
	// Goroutines the kernel did not start: a panic on them would not be
	// caught by a proxy, so it would end the whole system, not the domain.
	"time.AfterFunc":       "it runs f on a goroutine of its own, not one from the kernel's spawn call, so a panic in f is not caught and attributed",
	"context.AfterFunc":    "it runs f on a goroutine of its own, not one from the kernel's spawn call, so a panic in f is not caught and attributed",
	"(*sync.WaitGroup).Go": "it starts a goroutine, not one from the kernel's spawn call, so a panic on it is not caught and attributed",
}

// bannedBuiltins are built-in functions domains may not call, with why.
var bannedBuiltins = map[string]string{
	"print":   "it writes to the standard error of the kernel's process, ambient authority; use fmt.Fprint on a writer the domain was given",
	"println": "it writes to the standard error of the kernel's process, ambient authority; use fmt.Fprintln on a writer the domain was given",
}

const cgoMessage = `domains may not use cgo (import "C"): C code runs outside Go's memory safety, which is what isolates domains`

// who names the packages the rule is for, in a diagnostic.
func (c *domainCheck) who() string {
	if c.profile == root {
		return "the composition root"
	}
	return "domains"
}

// checkImport applies the unsafe, cgo and import rules to one import.
// In a file cmd/cgo wrote from a domain's source, `import _ "unsafe"` is
// what became of `import "C"`.
func (c *domainCheck) checkImport(spec *ast.ImportSpec, cgoOutput bool) {
	p, err := strconv.Unquote(spec.Path.Value)
	if err != nil {
		return // the type checker has already rejected the file
	}
	switch {
	case p == "C" || cgoOutput && p == "unsafe" && spec.Name != nil && spec.Name.Name == "_":
		c.report(spec.Path.Pos(), "cgo", cgoMessage)
	case p == "unsafe":
		c.report(spec.Path.Pos(), "unsafe", `%s may not import "unsafe": it breaks memory safety, which is what isolates domains`, c.who())
	case c.profile == root:
		// The composition root may import what it needs.
	default:
		if ok, why := c.importAllowed(p); !ok {
			c.report(spec.Path.Pos(), "import", "domains may not import %q: %s", p, why)
		}
	}
}

// importAllowed decides an import that is neither "unsafe" nor "C".
func (c *domainCheck) importAllowed(p string) (bool, string) {
	if r, ok := lookupImport(p); ok {
		return r.allowed, r.why
	}
	// A mark makes a package importable by domains, but not a package of
	// the trusted base or of the composition root: those are kernel-only
	// whatever they say about themselves.
	switch {
	case inTree(p, kernelRing):
		return false, "it is kernel-only: domains may import only the kernel's domain API (kernel/domain, kernel/rref, kernel/faults, kernel/hw) and idl"
	case isRoot(p):
		return false, "it is the composition root (or the device model), which wires domains together with the kernel's whole API; domains reach it only through capabilities"
	}
	if c.importsDomain(p) {
		return true, ""
	}
	switch {
	case isStandard(p):
		return false, "it is not on the allowlist of pure standard packages (vet/imports.go)"
	case p == modulePath || strings.HasPrefix(p, modulePath+"/"):
		return false, "it is not a package marked //rl:domain, the domain API (idl, kernel/domain, kernel/rref, kernel/faults, kernel/hw) nor on the allowlist"
	default:
		return false, "third-party packages are not vetted for domain use; only the allowlist (vet/imports.go) and packages marked //rl:domain are"
	}
}

// importsDomain reports whether the package imports p and p is marked
// //rl:domain, which the analyzer recorded as a fact when it visited p.
func (c *domainCheck) importsDomain(p string) bool {
	for _, imp := range c.pass.Pkg.Imports() {
		if imp.Path() == p {
			return c.pass.ImportPackageFact(imp, new(isDomain))
		}
	}
	return false
}

// checkBanned reports a use (call or function value) of a banned function.
func (c *domainCheck) checkBanned(id *ast.Ident) {
	switch obj := c.pass.TypesInfo.Uses[id].(type) {
	case *types.Func:
		name := obj.Origin().FullName()
		if why, ok := bannedFuncs[name]; ok {
			c.report(id.Pos(), "banned", "domains may not use %s: %s", name, why)
		} else if isGoMethod(obj) {
			c.report(id.Pos(), "banned", "domains may not call a method Go(func()) through an interface or type parameter: it may be (*sync.WaitGroup).Go, which %s", strings.TrimPrefix(bannedFuncs["(*sync.WaitGroup).Go"], "it "))
		}
	case *types.Builtin:
		if why, ok := bannedBuiltins[obj.Name()]; ok {
			c.report(id.Pos(), "banned", "domains may not use %s: %s", obj.Name(), why)
		}
	}
}
