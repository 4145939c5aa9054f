package gobuild

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// A builder's `go env -w` settings, a go.work above the checkout and an
// exported GOFLAGS do not reach the binary: the settings that shape it
// are the build's.
func TestBuildIgnoresBuilderSettings(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go in $PATH")
	}
	if testing.Short() {
		t.Skip("runs go build")
	}
	top := t.TempDir()
	mod := filepath.Join(top, "src", "hello")
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(mod, "go.mod"), "module example.com/hello\n\ngo 1.24\n")
	write(filepath.Join(mod, "main.go"), "package main\n\nvar Version string\n\nfunc main() { println(Version) }\n")
	// A go.work that does not use the module: honoured, it would make
	// go build fail ("directory . is outside modules listed in go.work").
	write(filepath.Join(top, "go.work"), "go 1.24\n")
	envFile := filepath.Join(top, "goenv")
	write(envFile, "GOAMD64=v3\nGOFLAGS=-tags=hostile\n")
	t.Setenv("GOENV", envFile)
	t.Setenv("GOEXPERIMENT", "")
	t.Setenv("CGO_ENABLED", "1")

	out := filepath.Join(t.TempDir(), "hello")
	err := Build(context.Background(), Options{Dir: mod, Package: ".", GOARCH: "amd64", Output: out,
		X: map[string]string{"main.Version": "v9"}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := ReadInfo(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"GOAMD64": "v1", "CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": "amd64", "-trimpath": "true", "-tags": ""}
	for k, v := range want {
		if info.Settings[k] != v {
			t.Errorf("setting %s = %q, want %q (all: %v)", k, info.Settings[k], v, info.Settings)
		}
	}
	if info.Go == "" {
		t.Error("no Go version in the build info")
	}
}

func TestReadInfoNotGo(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x")
	os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755)
	if _, err := ReadInfo(p); err == nil {
		t.Error("no error for a shell script")
	}
}
