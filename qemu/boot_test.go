package qemu

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/images/manifest"
)

// The kernels the tests boot come from the module cache (go.mod requires
// them); the tests skip when they are not there.
var testKernels = map[string]string{
	"amd64": "github.com/gokrazy/kernel.amd64@v0.0.0-20260705070735-de680abf072b/vmlinuz",
	"arm64": "github.com/gokrazy/kernel.arm64@v0.0.0-20260705071517-37841c4d6ff1/vmlinuz",
}

func testKernel(t *testing.T, arch string) string {
	t.Helper()
	modcache := os.Getenv("GOMODCACHE")
	if modcache == "" {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			t.Skipf("go env GOMODCACHE: %v", err)
		}
		modcache = strings.TrimSpace(string(out))
	}
	k := filepath.Join(modcache, filepath.FromSlash(testKernels[arch]))
	if _, err := os.Stat(k); err != nil {
		t.Skipf("no %s kernel: %v", arch, err)
	}
	return k
}

// bootTimeout is generous: TCG boots take 10-60 s, more when the tests'
// machines share two cores.
const bootTimeout = 180 * time.Second

// converse boots c, talks to the test's /init and checks that QEMU exits
// with status 0 when the guest powers off. It returns the console output.
func converse(t *testing.T, c Config) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bootTimeout+60*time.Second)
	defer cancel()
	start := time.Now()
	var opts []StartOption
	if testing.Verbose() {
		opts = append(opts, WithTranscript(&testLog{t: t, prefix: c.Arch + "/" + string(c.Mode)}))
	}
	vm, err := Start(ctx, c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := vm.Close(); err != nil {
			t.Error(err)
		}
	})
	con := vm.Console()
	if _, err := con.ExpectTimeout(bootTimeout, regexp.MustCompile(`(?m)^INIT-OK$`)); err != nil {
		t.Fatalf("%v\nQEMU: %q", err, vm.CommandLine())
	}
	booted := time.Since(start)
	if err := con.SendLine("hello from the host"); err != nil {
		t.Fatal(err)
	}
	m, err := con.ExpectTimeout(60*time.Second, regexp.MustCompile(`(?m)^GOT:(.*)$`))
	if err != nil {
		t.Fatal(err)
	}
	if m[1] != "hello from the host" {
		t.Errorf("guest got %q", m[1])
	}
	waitCtx, waitCancel := context.WithTimeout(ctx, 60*time.Second)
	defer waitCancel()
	select {
	case <-vm.Done():
	case <-waitCtx.Done():
		t.Fatalf("QEMU did not exit after the guest powered off; output:\n%s", con.Output())
	}
	code, err := vm.Wait()
	if code != 0 || err != nil {
		t.Fatalf("Wait() = %d, %v; want 0 after power-off", code, err)
	}
	t.Logf("%s %s: /init ran after %v, powered off after %v", c.Arch, c.Mode, booted.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond))
	return con.Output()
}

// testLog is a transcript writer that logs complete lines.
type testLog struct {
	t      *testing.T
	prefix string
	buf    []byte
}

func (l *testLog) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexByte(string(l.buf), '\n')
		if i < 0 {
			return len(p), nil
		}
		l.t.Logf("%s| %s", l.prefix, strings.TrimRight(string(l.buf[:i]), "\r"))
		l.buf = l.buf[i+1:]
	}
}

func TestBootKernel(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			t.Parallel()
			converse(t, Config{
				Arch:    arch,
				Mode:    Kernel,
				Kernel:  testKernel(t, arch),
				Initrd:  buildInitrd(t, arch),
				Cmdline: "console=" + SerialConsole(arch) + ",115200 quiet",
			})
		})
	}
}

// TestBootDiskWrites checks that the guest's writes to the disk image are
// thrown away unless the Config says Writable: built images must keep
// their digests.
func TestBootDiskWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	kernel := testKernel(t, "amd64")
	initrd := buildInitrd(t, "amd64")
	for _, writable := range []bool{false, true} {
		t.Run(map[bool]string{false: "snapshot", true: "writable"}[writable], func(t *testing.T) {
			t.Parallel()
			disk := filepath.Join(t.TempDir(), "disk.img")
			if err := os.WriteFile(disk, make([]byte, 1<<20), 0o644); err != nil {
				t.Fatal(err)
			}
			out := converse(t, Config{
				Arch: "amd64", Mode: Kernel, Kernel: kernel, Initrd: initrd,
				Cmdline: "console=ttyS0,115200 quiet", Disk: disk, Writable: writable,
			})
			if !strings.Contains(out, "WROTE-DISK") {
				t.Fatalf("the guest did not write to its disk; output:\n%s", out)
			}
			b, err := os.ReadFile(disk)
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.HasPrefix(b, []byte("SCRIBBLED")); got != writable {
				t.Errorf("Writable=%v: guest write reached the image: %v", writable, got)
			}
		})
	}
}

// TestBootDisk boots the firmware modes from a disk. The disk is not what
// `rlbuild image` builds (a GPT with systemd-boot and syslinux) but the
// smallest thing each firmware boots: a FAT file system without a
// partition table, holding a UEFI shell script that starts the kernel's
// EFI stub, or syslinux. It checks that the firmware, its variable store
// and the disk are wired up right and that the image is left untouched.
func TestBootDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	for _, tc := range []struct {
		arch string
		mode Mode
	}{
		{"amd64", UEFI},
		{"amd64", BIOS},
		{"arm64", UEFI},
	} {
		t.Run(tc.arch+"-"+string(tc.mode), func(t *testing.T) {
			t.Parallel()
			disk := fatDisk(t, tc.arch, tc.mode, testKernel(t, tc.arch), buildInitrd(t, tc.arch))
			before := sha(t, disk)
			out := converse(t, Config{Arch: tc.arch, Mode: tc.mode, Disk: disk})
			if !strings.Contains(out, "WROTE-DISK") {
				t.Errorf("the guest did not write to its disk")
			}
			if sha(t, disk) != before {
				t.Errorf("booting changed the disk image")
			}
		})
	}
}

// fatDisk makes a partitionless FAT image that boots the kernel with the
// test's initrd in mode, using mtools and, for BIOS, syslinux.
func fatDisk(t *testing.T, arch string, mode Mode, kernel, initrd string) string {
	t.Helper()
	tools := []string{"mkfs.vfat", "mcopy"}
	if mode == BIOS {
		tools = append(tools, "syslinux")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if _, err := exec.LookPath("/usr/sbin/" + tool); err != nil {
				t.Skipf("no %s to make a test disk (apt-get install dosfstools mtools syslinux)", tool)
			}
		}
	}
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.img")
	cmdline := "console=" + SerialConsole(arch) + ",115200 quiet"
	files := map[string]string{"initrd.gz": initrd}
	var config string
	if mode == UEFI {
		// The UEFI shell runs startup.nsh from the first file system
		// after a 5 s countdown; the kernel's EFI stub loads initrd=.
		files["linux.efi"] = kernel
		config = "startup.nsh"
		write(t, filepath.Join(dir, config), "fs0:\r\n\\linux.efi initrd=\\initrd.gz "+cmdline+"\r\n")
	} else {
		files["linux"] = kernel
		config = "syslinux.cfg"
		write(t, filepath.Join(dir, config), "SERIAL 0 115200\nDEFAULT linux\nLABEL linux\n  KERNEL /linux\n  INITRD /initrd.gz\n  APPEND "+cmdline+"\n")
	}
	files[config] = filepath.Join(dir, config)
	run(t, "mkfs.vfat", "-C", "-n", "RLTEST", disk, "65536")
	for name, src := range files {
		run(t, "mcopy", "-i", disk, src, "::/"+name)
	}
	if mode == BIOS {
		run(t, "syslinux", "--install", disk)
	}
	return disk
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		name = "/usr/sbin/" + name
	}
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func sha(t *testing.T, path string) string {
	t.Helper()
	a, err := manifest.HashFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return a.SHA256
}

// TestStartFailure checks that QEMU's complaint reaches both Wait and a
// waiting Expect.
func TestStartFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("runs QEMU")
	}
	k, _, _ := artifacts(t)
	vm, err := Start(context.Background(), Config{Arch: "amd64", Mode: Kernel, Kernel: k, ExtraArgs: []string{"-no-such-option"}})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	_, err = vm.Console().ExpectTimeout(30*time.Second, regexp.MustCompile(`never`))
	if !strings.Contains(err.Error(), "console closed while waiting for \"never\" (qemu-system-x86_64 exited with status 1: qemu-system-x86_64: -no-such-option: invalid option)") {
		t.Errorf("Expect error = %v", err)
	}
	code, err := vm.Wait()
	var xe *ExitError
	if code != 1 || !errors.As(err, &xe) || !strings.Contains(err.Error(), "invalid option") {
		t.Errorf("Wait() = %d, %v", code, err)
	}
}

// idleMachine is a PC with a blank disk: SeaBIOS finds nothing to boot
// and waits, a machine that never exits by itself.
func idleMachine(t *testing.T) Config {
	_, _, d := artifacts(t)
	if err := os.Truncate(d, 1<<20); err != nil {
		t.Fatal(err)
	}
	return Config{Arch: "amd64", Mode: BIOS, Disk: d}
}

// TestKillAndClose checks that Close stops a running guest and cleans up.
func TestKillAndClose(t *testing.T) {
	if testing.Short() {
		t.Skip("runs QEMU")
	}
	vm, err := Start(context.Background(), idleMachine(t))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := vm.Kill(); err != nil {
		t.Fatal(err)
	}
	code, err := vm.Wait()
	if code != -1 || err == nil || !strings.Contains(err.Error(), "killed by signal") {
		t.Errorf("Wait() after Kill = %d, %v", code, err)
	}
	if err := vm.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(vm.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("work dir %s survived Close: %v", vm.dir, err)
	}
	if err := vm.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestContextCancel checks that ending Start's context stops QEMU.
func TestContextCancel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs QEMU")
	}
	ctx, cancel := context.WithCancel(context.Background())
	vm, err := Start(ctx, idleMachine(t))
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	time.Sleep(500 * time.Millisecond)
	cancel()
	_, err = vm.Wait()
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Wait() after cancel: %v", err)
	}
}

// TestRunInteractive checks that QEMU accepts the interactive command line
// and that ending the context stops it. The terminal is replaced by files
// so that QEMU does not put the test's terminal into raw mode.
func TestRunInteractive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs QEMU")
	}
	c := idleMachine(t)
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	outFile, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer outFile.Close()
	stdin, stdout, stderr := os.Stdin, os.Stdout, os.Stderr
	os.Stdin, os.Stdout, os.Stderr = devnull, outFile, outFile
	defer func() { os.Stdin, os.Stdout, os.Stderr = stdin, stdout, stderr }()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	code, err := Run(ctx, c)
	os.Stdin, os.Stdout, os.Stderr = stdin, stdout, stderr
	out, _ := os.ReadFile(outFile.Name())
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 2*time.Second {
		t.Errorf("Run() = %d, %v after %v, want it to run until the deadline; output:\n%s", code, err, time.Since(start), out)
	}
}
