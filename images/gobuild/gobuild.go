// Package gobuild cross-compiles the Go programs that run on the target:
// static (CGO off), for linux/GOARCH, reproducible (-trimpath, no build
// id, no VCS stamp), through the ordinary go command so that Go's build
// cache makes a rebuild after a config-only change cheap.
//
// The build, not the builder, decides every setting that shapes the
// binary: the go command runs with GOENV=off and GOWORK=off and with the
// code-generation variables (GOAMD64, GOARM64, GOEXPERIMENT, GOFIPS140,
// GOFLAGS, CGO_ENABLED) set here, so neither a `go env -w` in the
// builder's HOME nor a go.work above the checkout nor an exported GOFLAGS
// changes the bytes. Only where things are (GOROOT, GOPATH, GOMODCACHE,
// GOCACHE) and how modules are fetched (GOPROXY and friends) come from
// the builder, read through `go env` so that a `go env -w GOPROXY=...`
// still works. The toolchain itself (GOTOOLCHAIN, the go in $PATH) is an
// input: Info reports its version from the binary.
package gobuild

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// Options is one program to build.
type Options struct {
	Dir     string            // module root the package resolves in
	Package string            // e.g. ./cmd/rlkernel
	GOARCH  string            // amd64, arm64
	Output  string            // binary to write
	X       map[string]string // -ldflags -X settings, e.g. version
	Tags    []string          // build tags
}

// Build runs go build. Its error carries the compiler's output.
func Build(ctx context.Context, o Options) error {
	if _, err := exec.LookPath("go"); err != nil {
		return fmt.Errorf("building %s needs the Go toolchain (go) in $PATH: install Go 1.26 from go.dev/dl or Debian's golang package", o.Package)
	}
	env, err := buildEnv(ctx, o.Dir, o.GOARCH)
	if err != nil {
		return err
	}
	ldflags := []string{"-s", "-w", "-buildid="}
	for _, k := range slices.Sorted(maps.Keys(o.X)) {
		ldflags = append(ldflags, "-X", k+"="+o.X[k])
	}
	args := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags", strings.Join(ldflags, " "), "-o", o.Output}
	if len(o.Tags) > 0 {
		args = append(args, "-tags", strings.Join(o.Tags, ","))
	}
	args = append(args, o.Package)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = o.Dir
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for linux/%s failed: %v\n%s", o.Package, o.GOARCH, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// located are the go settings taken from the builder: where the toolchain,
// the module cache and the build cache are, and how modules are fetched.
// None of them changes the bytes of a binary built with -trimpath.
var located = []string{
	"GOROOT", "GOPATH", "GOMODCACHE", "GOCACHE", "GOTMPDIR", "GOTOOLCHAIN",
	"GOPROXY", "GONOPROXY", "GOSUMDB", "GONOSUMDB", "GOPRIVATE", "GOINSECURE", "GOVCS", "GOAUTH",
}

// buildEnv returns the environment Build runs go build in, for a target arch:
// the builder's environment without any GO* or CGO_* variable, the
// located settings as `go env` reports them in dir, and the settings the
// build decides.
func buildEnv(ctx context.Context, dir, goarch string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "go", append([]string{"env", "-json"}, located...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go env in %s: %v: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	var have map[string]string
	if err := json.Unmarshal(out, &have); err != nil {
		return nil, fmt.Errorf("go env -json in %s: %v", dir, err)
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GO") || strings.HasPrefix(k, "CGO_") {
			continue
		}
		env = append(env, kv)
	}
	for _, k := range located {
		if v := have[k]; v != "" {
			env = append(env, k+"="+v)
		}
	}
	return append(env, decided(goarch)...), nil
}

// decided are the go settings the build sets for a target arch. The
// microarchitecture levels are the baselines (any amd64 PC, any ARMv8.0
// board); GOEXPERIMENT, GOFIPS140 and GOFLAGS are empty, which with
// GOENV=off means the toolchain's defaults.
func decided(goarch string) []string {
	return []string{
		"GOENV=off", "GOWORK=off", "GOFLAGS=", "GOEXPERIMENT=", "GOFIPS140=",
		"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + goarch,
		"GOAMD64=v1", "GOARM64=v8.0",
	}
}

// Info is what a Go binary records about its own build.
type Info struct {
	Go       string            // toolchain, e.g. go1.26.8
	Settings map[string]string // -trimpath, -ldflags, GOAMD64, CGO_ENABLED, ...
	Deps     []Module          // modules compiled in, sorted by path
}

// Module is a Go module compiled into a binary.
type Module struct{ Path, Version, Sum string }

// ReadInfo reads the build information of a Go binary (kept by -s -w).
func ReadInfo(binary string) (*Info, error) {
	bi, err := buildinfo.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("reading the Go build information of %s: %w", binary, err)
	}
	info := &Info{Go: bi.GoVersion, Settings: map[string]string{}}
	for _, s := range bi.Settings {
		info.Settings[s.Key] = s.Value
	}
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		info.Deps = append(info.Deps, Module{Path: d.Path, Version: d.Version, Sum: d.Sum})
	}
	slices.SortFunc(info.Deps, func(a, b Module) int { return strings.Compare(a.Path, b.Path) })
	return info, nil
}
