package registry

import (
	"reflect"
	"strings"
	"testing"
)

// atInit is what Initializing says during this package's initialization.
var atInit = Initializing()

type notIDL interface{ M() }

func TestInitializing(t *testing.T) {
	if want := reflect.TypeFor[notIDL]().PkgPath(); atInit != want {
		t.Errorf("Initializing() at init = %q, want %q", atInit, want)
	}
	if got := Initializing(); got != "" {
		t.Errorf("Initializing() in a test = %q, want none", got)
	}
	// A closure made at init and called later is not at init.
	if got := lateClosure(); got != "" {
		t.Errorf("a closure of init called later: %q", got)
	}
}

var lateClosure func() string

func init() { lateClosure = func() string { return Initializing() } }

func TestSplit(t *testing.T) {
	for fn, want := range map[string][2]string{
		"github.com/rlgo/redleaf/idl.init.0":                      {"github.com/rlgo/redleaf/idl", "init.0"},
		"github.com/rlgo/redleaf/kernel/domain.(*Domain).check":   {"github.com/rlgo/redleaf/kernel/domain", "(*Domain).check"},
		"gopkg.in/yaml%2ev3.init":                                 {"gopkg.in/yaml%2ev3", "init"},
		"github.com/rlgo/redleaf/kernel/domain.Import[...].func1": {"github.com/rlgo/redleaf/kernel/domain", "Import[...].func1"},
		"main.main": {"main", "main"},
	} {
		if pkg, rest := Split(fn); pkg != want[0] || rest != want[1] {
			t.Errorf("Split(%q) = %q, %q", fn, pkg, rest)
		}
	}
	for rest, want := range map[string]bool{"init": true, "init.12": true, "init.0.func1": false, "initx": false, "init.": false, "T.init": false} {
		if isInit(rest) != want {
			t.Errorf("isInit(%q) = %v", rest, !want)
		}
	}
}

func TestCheckIDL(t *testing.T) {
	if err := CheckIDL("proxy", reflect.TypeFor[notIDL]()); err == nil || !strings.Contains(err.Error(), "only the interfaces of "+IDLPackage) {
		t.Errorf("CheckIDL of an interface outside the IDL package: %v", err)
	}
}
