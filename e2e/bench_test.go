package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/rlgo/redleaf/images/manifest"
	"github.com/rlgo/redleaf/qemu"
)

// timed runs a command in the repository root and returns how long it took.
func timed(b *testing.B, env []string, name string, args ...string) time.Duration {
	b.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return time.Since(start)
}

// BenchmarkImage times `rlbuild image` for the default config against
// u-root's own `u-root` command building an initramfs whose /init is the
// same package (./cmd/rlkernel), in the same run, and reports the ratio.
//
//	warm: Go's build cache is full; rlbuild rebuilds after a config-only
//	      change (a new kernel command line each iteration).
//	cold: a fresh, empty GOCACHE for every build of both tools.
//
// rlbuild's figure includes the kernel copy, PXE bundle, 128 MiB disk image
// and manifest, which u-root does not make.
func BenchmarkImage(b *testing.B) {
	for _, cold := range []bool{false, true} {
		name := "warm"
		if cold {
			name = "cold"
		}
		b.Run(name, func(b *testing.B) {
			out := b.TempDir()
			var rlTotal, urTotal time.Duration
			for i := 0; i < b.N; i++ {
				var env []string
				if cold {
					env = append(env, "GOCACHE="+b.TempDir())
				}
				rlEnv := append(env, fmt.Sprintf("RLBUILD_KERNEL_CMDLINE=console=ttyS0,115200 panic=-1 bench=%d", i))
				if i == 0 && !cold {
					timed(b, rlEnv, rlbuild, "image", "--out", out) // fill the cache
				}
				rlTotal += timed(b, rlEnv, rlbuild, "image", "--out", out)
				urTotal += timed(b, env, "go", "tool", "u-root", "-build=binary", "-initcmd=rlkernel", "-defaultsh=", "-uinitcmd=",
					"-o", filepath.Join(out, "u-root.cpio"), "./cmd/rlkernel")
			}
			b.ReportMetric(rlTotal.Seconds()/float64(b.N), "rlbuild-s/op")
			b.ReportMetric(urTotal.Seconds()/float64(b.N), "u-root-s/op")
			b.ReportMetric(rlTotal.Seconds()/urTotal.Seconds(), "rlbuild/u-root")
		})
	}
}

// BenchmarkImageSize reports the sizes of the default build's artifacts.
func BenchmarkImageSize(b *testing.B) {
	out := b.TempDir()
	for i := 0; i < b.N; i++ {
		timed(b, nil, rlbuild, "image", "--out", out)
	}
	m, err := manifest.Load(out)
	if err != nil {
		b.Fatal(err)
	}
	size := func(rel string) float64 {
		st, err := os.Stat(m.Path(rel))
		if err != nil {
			b.Fatal(err)
		}
		return float64(st.Size())
	}
	cpio := timedCPIOSize(b, m)
	b.ReportMetric(size(m.Initrd), "initrd-B")
	b.ReportMetric(cpio, "cpio-B")
	b.ReportMetric(size(m.Kernel), "kernel-B")
	b.ReportMetric(size(m.Disk), "disk-B")
	b.ReportMetric(float64(allocated(b, m.Path(m.Disk))), "disk-used-B")
}

// BenchmarkBootToPrompt times QEMU (TCG) from start to the first shell
// prompt for every boot path, then powers the guest off.
func BenchmarkBootToPrompt(b *testing.B) {
	amd64 := imageB(b, "configs/qemu.yaml")
	arm64 := imageB(b, "configs/qemu-arm64.yaml")
	prompt := regexp.MustCompile(`\$ `)
	for _, tc := range []struct {
		name string
		dir  string
		mode qemu.Mode
	}{
		{"amd64-kernel", amd64, qemu.Kernel},
		{"amd64-uefi", amd64, qemu.UEFI},
		{"amd64-bios", amd64, qemu.BIOS},
		{"arm64-kernel", arm64, qemu.Kernel},
	} {
		b.Run(tc.name, func(b *testing.B) {
			m, err := manifest.Load(tc.dir)
			if err != nil {
				b.Fatal(err)
			}
			c, err := qemu.FromManifest(m, tc.mode)
			if err != nil {
				b.Fatal(err)
			}
			var total time.Duration
			for i := 0; i < b.N; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
				start := time.Now()
				vm, err := qemu.Start(ctx, c)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := vm.Console().Expect(ctx, prompt); err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
				vm.Console().SendLine("poweroff")
				vm.Wait()
				vm.Close()
				cancel()
			}
			b.ReportMetric(total.Seconds()/float64(b.N), "s-to-prompt")
		})
	}
}
