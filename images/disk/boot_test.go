package disk

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rlgo/redleaf/host"
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
	initrd := buildInitrd(t)
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

// buildInitrd compiles initProgram statically and packs it as /init in a
// gzip-compressed newc cpio with /dev/console, which the kernel opens for
// init before any devtmpfs is mounted.
func buildInitrd(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module rlgoinit\n\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(initProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goTool(t), "build", "-trimpath", "-o", "init", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building /init: %v\n%s", err, out)
	}
	initBin := readFile(t, filepath.Join(dir, "init"))

	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	cw := &cpioWriter{w: zw}
	cw.add("dev", 0o040755, 0, 0, nil)
	cw.add("dev/console", 0o020600, 5, 1, nil)
	cw.add("init", 0o100755, 0, 0, initBin)
	cw.add("TRAILER!!!", 0, 0, 0, nil)
	if cw.err != nil {
		t.Fatal(cw.err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "initrd.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// cpioWriter writes the "newc" cpio format the kernel unpacks.
type cpioWriter struct {
	w   io.Writer
	n   int64
	ino int
	err error
}

func (c *cpioWriter) write(b []byte) {
	if c.err != nil {
		return
	}
	var n int
	n, c.err = c.w.Write(b)
	c.n += int64(n)
}

func (c *cpioWriter) pad() {
	if r := c.n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

func (c *cpioWriter) add(name string, mode, rdevMajor, rdevMinor uint32, data []byte) {
	c.ino++
	nlink := 1
	if mode&0o040000 != 0 {
		nlink = 2
	}
	c.write(fmt.Appendf(nil, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdevMajor, rdevMinor, len(name)+1, 0))
	c.write(append([]byte(name), 0))
	c.pad()
	c.write(data)
	c.pad()
}
