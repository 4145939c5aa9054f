package rv6test_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/loader"
	_ "github.com/rlgo/redleaf/rv6/progs/echo"
	_ "github.com/rlgo/redleaf/rv6/progs/sleep"
	"github.com/rlgo/redleaf/rv6/rv6test"
)

// noSys is a syscall capability for a program domain that is loaded and
// unloaded without running: its constructor only imports it.
type noSys struct{ idl.Sys }

// BenchmarkSpawn compares starting a program, in one run:
//
//	load-unload     a program domain created and terminated by the kernel's loader (kernel/loader)
//	process         a whole Rv6 process: spawn, run (sleep 0: no I/O), exit, reap (idl.Rv6.Run)
//	process-echo    the same with output (echo hi: one write to the console)
//	exec-go-static  os/exec of a static Go binary that does nothing (built here)
//	exec-true       os/exec of /bin/true
//
//	go test -run '^$' -bench Spawn -benchmem ./rv6/rv6test/
func BenchmarkSpawn(b *testing.B) {
	b.Run("load-unload", func(b *testing.B) {
		s := rv6test.Boot(b, rv6test.Options{DiskSize: 8 << 20})
		l := loader.New(s.M)
		sys := s.M.Export(idl.Sys(noSys{}))
		b.ReportAllocs()
		for b.Loop() {
			c, err := domain.Connect[idl.Sys](s.M.Kernel(), sys)
			if err != nil {
				b.Fatal(err)
			}
			h, err := l.Prepare("sleep", "sleep")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := l.Start(h, c); err != nil {
				b.Fatal(err)
			}
			if err := l.Unload(h); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, p := range []struct{ name, prog, arg string }{{"process", "sleep", "0"}, {"process-echo", "echo", "hi"}} {
		b.Run(p.name, func(b *testing.B) {
			s := rv6test.Boot(b, rv6test.Options{DiskSize: 8 << 20})
			b.ReportAllocs()
			for b.Loop() {
				if _, st := s.Run(b, p.prog, p.arg); !st.Exited || st.Status != 0 {
					b.Fatalf("%s %s: %+v", p.prog, p.arg, st)
				}
			}
		})
	}
	b.Run("exec-go-static", func(b *testing.B) {
		bin := staticGoBinary(b)
		b.ReportAllocs()
		for b.Loop() {
			if err := exec.Command(bin).Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("exec-true", func(b *testing.B) {
		if _, err := os.Stat("/bin/true"); err != nil {
			b.Skip("no /bin/true")
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := exec.Command("/bin/true").Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// staticGoBinary builds a Go program that does nothing, statically linked
// (CGO off), into a temporary directory.
func staticGoBinary(b *testing.B) string {
	b.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		b.Skip("no go command to build the static binary")
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module nothing\n\ngo 1.22\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(dir, "nothing")
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building the static binary: %v\n%s", err, out)
	}
	return bin
}
