// Package gobuild cross-compiles the Go programs that run on the target:
// static (CGO off), for linux/GOARCH, reproducible (-trimpath, no build
// id, no VCS stamp), through the ordinary go command so that Go's build
// cache makes a rebuild after a config-only change cheap.
package gobuild

import (
	"bytes"
	"context"
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
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+o.GOARCH)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		if _, lookErr := exec.LookPath("go"); lookErr != nil {
			return fmt.Errorf("building %s needs the Go toolchain (go) in $PATH: install Go 1.26 from go.dev/dl or Debian's golang package", o.Package)
		}
		return fmt.Errorf("go build %s for linux/%s failed: %v\n%s", o.Package, o.GOARCH, err, strings.TrimSpace(out.String()))
	}
	return nil
}
