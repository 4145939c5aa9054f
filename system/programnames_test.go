package system

import (
	"context"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/kernel/loader"
	"github.com/rlgo/redleaf/system/sh"
)

// A program named as a monitor command it is not meant to replace is
// refused before Rv6 starts; the programs the image links today pass.
func TestProgramNames(t *testing.T) {
	reg := sh.NewRegistry()
	nop := sh.Func(func(context.Context, *sh.Proc) int { return 0 })
	for _, c := range []string{"inject", "restart", "kill", "domains"} {
		reg.Register(c, "", nop)
	}
	if err := checkProgramNames([]string{"ls", "kill"}, reg); err != nil {
		t.Errorf("kill replaces the command on purpose: %v", err)
	}
	err := checkProgramNames([]string{"ls", "inject", "domains"}, reg)
	if err == nil || !strings.Contains(err.Error(), "inject, domains would shadow the monitor command") {
		t.Errorf("shadowing programs: %v", err)
	}
	s, err := Start(Options{DiskSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var none *rv6
	full := registry(nil, s, &none) // the console's registry, as the kernel builds it at boot
	if err := checkProgramNames(loader.Programs(), full); err != nil {
		t.Errorf("the linked programs: %v", err)
	}
	// Each program listed as replacing a command has one to replace: an
	// entry left behind when a command goes would let a future command of
	// that name be shadowed unnoticed.
	linked := map[string]bool{}
	for _, p := range loader.Programs() {
		linked[p] = true
	}
	for name := range programsOverCommands {
		if _, ok := full.Lookup(name); !ok || !linked[name] {
			t.Errorf("programsOverCommands lists %s: command %v, program %v; want both", name, ok, linked[name])
		}
	}
}
