package vet

import "strings"

// A profile is the set of rules a package is checked with. Which profile a
// package gets depends only on its import path (profileOf), never on
// anything the package says about itself: a mark can make a package a
// domain, which other domains may import, but nothing a package writes can
// lift a rule from it.
type profile int

const (
	// trusted packages are not checked: the standard library, and the
	// trusted base of the target (kernel/...), which alone may use unsafe,
	// system calls and devices.
	trusted profile = iota
	// root packages are the composition root (rootPackages): privileged
	// wiring that may use the kernel's whole API, the os package and
	// goroutines, but not unsafe, cgo, assembly or linkname, which would
	// put code outside Go's checks next to the kernel.
	root
	// domain packages get every rule: all the other packages of the
	// module, marked //rl:domain or not, and what a check is asked about.
	domain
)

func (p profile) String() string {
	switch p {
	case trusted:
		return "trusted"
	case root:
		return "root"
	}
	return "domain"
}

// kernelRing is the trusted base of the target: the only code allowed
// unsafe, system calls and device access.
const kernelRing = modulePath + "/kernel"

// rootPackages are the packages of the module checked with the root
// profile, with "/..." for a subtree. The list is here, in the checker's
// own source, and nowhere else: a package cannot put itself on it.
//
//   - system/... and cmd/rlkernel are the composition root: which domains
//     start with which grants, and the console's commands.
//   - drivers/ixgbe/model is the 82599 model, a stand-in for a device the
//     composition root plugs in where no 82599 is present: it is hardware,
//     not a domain, and runs on threads of its own.
//   - idl holds the IDL interfaces and the proxies cmd/idlgen generates
//     (trusted code: they recover a callee's panic and move RRefs between
//     accounts); the kernel imports it.
//   - version is set by the linker and read by the kernel's banner.
var rootPackages = []string{
	modulePath + "/system/...",
	modulePath + "/cmd/rlkernel",
	modulePath + "/drivers/ixgbe/model",
	modulePath + "/idl",
	modulePath + "/version",
}

// profileOf returns the profile of the package with import path p, which
// is not a standard package (those are told by where their files are, see
// inGOROOT). Packages outside this module are domains: a check asked about
// them applies every rule (the image check never asks, see Check; domains
// may not import them).
func profileOf(p string) profile {
	switch {
	case inTree(p, kernelRing):
		return trusted
	case isRoot(p):
		return root
	}
	return domain
}

// isRoot reports whether p is on rootPackages.
func isRoot(p string) bool {
	for _, r := range rootPackages {
		if tree, ok := strings.CutSuffix(r, "/..."); ok {
			if inTree(p, tree) {
				return true
			}
		} else if p == r {
			return true
		}
	}
	return false
}

// inTree reports whether p is dir or a package under it.
func inTree(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}
