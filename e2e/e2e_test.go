// Package e2e holds the end-to-end tests: they build the rlbuild command,
// build images with it as a user would, and boot them in QEMU (TCG)
// through every boot path. They are skipped with -short.
package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	root    string // repository root
	rlbuild string // the rlbuild binary under test
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	root = filepath.Dir(wd)
	tmp, err := os.MkdirTemp("", "rlbuild-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	rlbuild = filepath.Join(tmp, "rlbuild")
	build := exec.Command("go", "build", "-o", rlbuild, "./cmd/rlbuild")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building rlbuild: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// result is one run of rlbuild.
type result struct {
	code   int
	stdout string
	stderr string
}

func rl(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(rlbuild, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running rlbuild %v: %v", args, err)
	}
	return result{code, stdout.String(), stderr.String()}
}

// images builds each config once per test binary run, into a shared
// temporary directory, and returns its artifacts directory.
var images = struct {
	sync.Mutex
	dirs map[string]string
	tmp  string
}{dirs: map[string]string{}}

func image(t *testing.T, cfg string) string {
	t.Helper()
	images.Lock()
	defer images.Unlock()
	if d, ok := images.dirs[cfg]; ok {
		return d
	}
	if images.tmp == "" {
		d, err := os.MkdirTemp("", "rlbuild-e2e-images-")
		if err != nil {
			t.Fatal(err)
		}
		images.tmp = d
	}
	out := filepath.Join(images.tmp, strings.TrimSuffix(filepath.Base(cfg), ".yaml"))
	r := rl(t, nil, "image", "--config", cfg, "--out", out)
	if r.code != 0 {
		t.Fatalf("rlbuild image --config %s: exit %d\n%s", cfg, r.code, r.stderr)
	}
	images.dirs[cfg] = out
	return out
}

func TestBootPaths(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	for _, tc := range []struct {
		cfg, mode, arch string
	}{
		{"configs/qemu.yaml", "kernel", "x86_64"},
		{"configs/qemu.yaml", "uefi", "x86_64"},
		{"configs/qemu.yaml", "bios", "x86_64"},
		{"configs/qemu-arm64.yaml", "kernel", "aarch64"},
	} {
		t.Run(tc.arch+"-"+tc.mode, func(t *testing.T) {
			dir := image(t, tc.cfg)
			t.Parallel()
			transcript := filepath.Join(t.TempDir(), "console.log")
			steps := []string{
				`--step`, `expect@4m=RedLeaf-Go domain kernel`,
				`--step`, `expect=\$ `,
				`--step`, `send=echo hi`,
				`--step`, `expect=(?m)^hi$`,
				`--step`, `expect=\$ `,
				`--step`, `send=uname -m`,
				`--step`, `expect=(?m)^` + tc.arch + `$`,
				`--step`, `send=poweroff`,
			}
			start := time.Now()
			args := append([]string{"boot", "--artifacts", dir, "--mode", tc.mode, "--timeout", "3m", "--quiet", "--transcript", transcript}, steps...)
			r := rl(t, nil, args...)
			log, _ := os.ReadFile(transcript)
			if r.code != 0 {
				t.Fatalf("boot exit %d: %s\nconsole:\n%s", r.code, r.stderr, tail(string(log), 3000))
			}
			t.Logf("%s %s: prompt, echo and poweroff in %v", tc.arch, tc.mode, time.Since(start).Round(time.Second))
		})
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Optional u-root commands (initramfs.commands) land in /bbin and the
// kernel's monitor shell (rl.rv6=0: no Rv6) runs them as programs.
func TestURootCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	out := filepath.Join(t.TempDir(), "ucmd")
	r := rl(t, []string{"RLBUILD_INITRAMFS_COMMANDS=github.com/u-root/u-root/cmds/core/ls github.com/u-root/u-root/cmds/core/cat",
		"RLBUILD_KERNEL_CMDLINE=console=ttyS0,115200 panic=-1 quiet rl.rv6=0"},
		"image", "--out", out)
	if r.code != 0 {
		t.Fatalf("image: %s", r.stderr)
	}
	transcript := filepath.Join(t.TempDir(), "console.log")
	r = rl(t, nil, "boot", "--artifacts", out, "--timeout", "3m", "--quiet", "--transcript", transcript,
		"--step", `expect@4m=\$ `,
		"--step", "send=cat /proc/version",
		"--step", "expect=Linux version",
		"--step", `expect=\$ `,
		"--step", "send=ls /bbin",
		"--step", "expect=(?m)^cat$",
		"--step", `expect=\$ `,
		"--step", "send=poweroff")
	if r.code != 0 {
		log, _ := os.ReadFile(transcript)
		t.Fatalf("boot: %s\n%s", r.stderr, tail(string(log), 3000))
	}
}
