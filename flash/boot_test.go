//go:build linux

package flash

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/qemu"
)

// TestFlashedDeviceBoots builds the qemu config's image as a user would,
// writes it to a loop device over a used stick's contents and boots the
// loop device in QEMU with UEFI firmware to the shell prompt. QEMU's
// writes go to a snapshot: the device stays as written.
func TestFlashedDeviceBoots(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image and boots QEMU")
	}
	requireLoops(t)
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed (scripts/install-deps.sh)")
	}
	out := filepath.Join(t.TempDir(), "qemu")
	build := exec.Command("go", "run", "./cmd/rlbuild", "image", "--config", "configs/qemu.yaml", "--out", out)
	build.Dir = ".."
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("rlbuild image: %v\n%s", err, b)
	}
	img, err := OpenImage(out)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()

	backing := backingFile(t, roundUp(img.Size, 1<<20)+64<<20, oldContents)
	loop := attachLoop(t, backing, 0)
	p, err := Host{}.Plan(img, loop, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	p.Describe(&plan)
	res, err := p.Write(context.Background(), WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s\nwrote %d bytes in %v, %d bytes of holes %s", plan.String(), res.Written, res.Total, res.Holes, res.HoleMethod)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var opts []qemu.StartOption
	if testing.Verbose() {
		opts = append(opts, qemu.WithTranscript(os.Stdout))
	}
	vm, err := qemu.Start(ctx, qemu.Config{Arch: "amd64", Mode: qemu.UEFI, Disk: loop}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	start := time.Now()
	con := vm.Console()
	if _, err := con.ExpectTimeout(4*time.Minute, regexp.MustCompile(`\$ `)); err != nil {
		t.Fatalf("no prompt from the flashed device: %v\nQEMU: %q", err, vm.CommandLine())
	}
	t.Logf("prompt after %v", time.Since(start).Round(100*time.Millisecond))
	if err := con.SendLine("poweroff"); err != nil {
		t.Fatal(err)
	}
	if code, err := vm.Wait(); code != 0 || err != nil {
		t.Errorf("QEMU exited with %d, %v after poweroff", code, err)
	}
}
