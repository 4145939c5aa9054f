package disk

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rlgo/redleaf/host"
	"github.com/rlgo/redleaf/internal/testinitrd"
)

// bootMarker is what the test's /init prints once the kernel runs it.
const bootMarker = "RLGO-DISK-OK"

// initProgram is the whole userland of the boot test: say we got here,
// then power off so QEMU exits.
const initProgram = `package main

import (
	"fmt"
	"os"
	"syscall"
)

func main() {
	out := os.Stdout
	if f, err := os.OpenFile("/dev/console", os.O_WRONLY, 0); err == nil {
		out = f
	}
	fmt.Fprintln(out, "` + bootMarker + `")
	syscall.Sync()
	syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
}
`

// TestBoot boots a disk with the real gokrazy kernel in QEMU (TCG, no KVM
// needed), once with OVMF through systemd-boot and once with SeaBIOS
// through syslinux.
func TestBoot(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU twice; skipped with -short")
	}
	qemu := hostFile(t, host.QEMUx86)
	kernel := gokrazyKernel(t)
	initrd := testinitrd.Build(t, "amd64", initProgram)
	img, info := build(t, Spec{
		Arch:    "amd64",
		Kernel:  kernel,
		Initrd:  initrd,
		Cmdline: "console=ttyS0,115200 panic=-1", // panic=-1: fail fast, -no-reboot ends QEMU
		Title:   "RedLeaf-Go (boot test)",
		Seed:    "boot-test",
		UEFI:    true,
		BIOS:    true,
	})
	t.Logf("disk %s: %d bytes, files %v", img, info.Size, info.Files)

	t.Run("UEFI", func(t *testing.T) {
		t.Parallel()
		code := hostFile(t, host.OVMFCode)
		vars := filepath.Join(t.TempDir(), "OVMF_VARS.fd")
		// OVMF writes its variables; each boot gets its own copy.
		if err := os.WriteFile(vars, readFile(t, hostFile(t, host.OVMFVars)), 0o644); err != nil {
			t.Fatal(err)
		}
		boot(t, qemu, img,
			"-machine", "q35",
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+code,
			"-drive", "if=pflash,format=raw,unit=1,file="+vars)
	})
	t.Run("BIOS", func(t *testing.T) {
		t.Parallel()
		boot(t, qemu, img, "-machine", "pc")
	})
}

// boot runs QEMU on a copy of img and waits for bootMarker on the serial
// console.
func boot(t *testing.T, qemu, img string, machine ...string) {
	// A copy, as the firmware or loader may write to the disk (systemd-boot
	// can keep a random seed there) and the two boots run at once.
	disk := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(disk, readFile(t, img), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	args := append([]string{
		"-accel", "tcg",
		"-m", "512",
		"-display", "none",
		"-serial", "stdio",
		"-monitor", "none",
		"-no-reboot",
		"-nic", "none", // no network boot attempts before the disk
		"-drive", "file=" + disk + ",format=raw,if=virtio",
	}, machine...)
	cmd := exec.CommandContext(ctx, qemu, args...)
	out := &watcher{marker: []byte(bootMarker), seen: make(chan struct{})}
	cmd.Stdout = out
	cmd.Stderr = out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	select {
	case <-out.seen:
		t.Logf("%s after %.1fs", bootMarker, time.Since(start).Seconds())
	case err := <-done:
		t.Fatalf("QEMU exited (%v) after %.1fs without %s; output:\n%s", err, time.Since(start).Seconds(), bootMarker, out.String())
	case <-ctx.Done():
		<-done // CommandContext kills QEMU
		t.Fatalf("no %s within 120s; output:\n%s", bootMarker, out.String())
	}
	// /init powers off; QEMU should exit by itself soon after.
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("QEMU: %v", err)
		}
		t.Logf("QEMU exited after %.1fs", time.Since(start).Seconds())
	case <-time.After(30 * time.Second):
		cancel()
		<-done
		t.Errorf("QEMU did not exit after power off; output:\n%s", out.String())
	}
}

// watcher collects QEMU's output and closes seen when marker appears.
type watcher struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker []byte
	seen   chan struct{}
	closed bool
}

func (w *watcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.closed && bytes.Contains(w.buf.Bytes(), w.marker) {
		w.closed = true
		close(w.seen)
	}
	return len(p), nil
}

func (w *watcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// gokrazyKernel is the kernel from the module in go.mod, found with the go
// command so the test follows whatever version go.mod names.
func gokrazyKernel(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(goTool(t), "list", "-m", "-f", "{{.Dir}}", "github.com/gokrazy/kernel.amd64").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/gokrazy/kernel.amd64: %v", err)
	}
	kernel := filepath.Join(strings.TrimSpace(string(out)), "vmlinuz")
	if _, err := os.Stat(kernel); err != nil {
		t.Fatalf("gokrazy kernel: %v (run go mod download github.com/gokrazy/kernel.amd64)", err)
	}
	return kernel
}

func goTool(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go command: %v", err)
	}
	return gobin
}
