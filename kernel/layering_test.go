package kernel

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/rlgo/redleaf"

// allowedAbove are the packages of the module outside kernel/ that the
// trusted base may import: the interfaces it implements and calls, and the
// version it prints.
var allowedAbove = []string{module + "/idl", module + "/version", module + "/bootparam"}

// allowedLeaves are single packages (not their subpackages) of the module
// that the trusted base may import because they are leaves, importing only
// the standard library (TestLeavesAreLeaves checks that), with why:
//   - dhcp4: the DHCP client logic kernel/netup shares with the
//     network stack domain, so that both speak DHCP the same way.
var allowedLeaves = []string{module + "/dhcp4"}

type listed struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// goList runs go list -json over patterns and decodes its stream.
func goList(t *testing.T, args ...string) []listed {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json=ImportPath,Imports,Deps"}, args...)...)
	cmd.Dir = ".."
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, errb.String())
	}
	var pkgs []listed
	dec := json.NewDecoder(&out)
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func allowed(p string) bool {
	if !strings.HasPrefix(p, module+"/") || strings.HasPrefix(p, module+"/kernel/") || p == module+"/kernel" {
		return true // the standard library, third-party modules, the kernel itself
	}
	for _, a := range allowedAbove {
		if p == a || strings.HasPrefix(p, a+"/") {
			return true
		}
	}
	for _, a := range allowedLeaves {
		if p == a {
			return true
		}
	}
	return false
}

// TestLeavesAreLeaves fails when a package of allowedLeaves depends on
// anything but the standard library.
func TestLeavesAreLeaves(t *testing.T) {
	for _, leaf := range allowedLeaves {
		pkgs := goList(t, leaf)
		if len(pkgs) != 1 {
			t.Fatalf("go list %s: %d packages", leaf, len(pkgs))
		}
		for _, d := range pkgs[0].Deps {
			if first, _, _ := strings.Cut(d, "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports %s: a leaf the kernel may import must depend on the standard library only", leaf, d)
			}
		}
	}
}

// TestKernelImportsNothingAbove fails when a package under kernel/ (its
// code, not its tests) imports, directly or through another package, a
// driver, Rv6, a service, an application, the composition root or any other
// package of the module above the kernel.
func TestKernelImportsNothingAbove(t *testing.T) {
	pkgs := goList(t, "./kernel/...")
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d kernel packages", len(pkgs))
	}
	for _, p := range pkgs {
		for _, d := range p.Deps {
			if !allowed(d) {
				direct := ""
				for _, i := range p.Imports {
					if i == d {
						direct = " directly"
					}
				}
				t.Errorf("%s imports %s%s: the trusted base may not depend on code above it (move the code that needs it to the composition root, package system)", p.ImportPath, d, direct)
			}
		}
	}
}

// TestRuleCatches checks the rule itself: a dependency on each kind of
// package above the kernel is refused.
func TestRuleCatches(t *testing.T) {
	for _, p := range []string{"drivers/nvme", "rv6/sys", "services/null", "system", "system/monitor", "net/udpecho", "apps/httpd", "vet"} {
		if allowed(module + "/" + p) {
			t.Errorf("%s is allowed under the kernel", p)
		}
	}
	for _, p := range []string{"kernel/rref", "idl", "version", "fmt", "golang.org/x/sys/unix"} {
		if p != "fmt" && p != "golang.org/x/sys/unix" {
			p = module + "/" + p
		}
		if !allowed(p) {
			t.Errorf("%s is refused under the kernel", p)
		}
	}
}
