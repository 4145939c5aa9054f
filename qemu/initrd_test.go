package qemu

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// initProgram is the guest's /init: it proves the console works both ways
// and then powers the machine off, which should end QEMU with status 0.
const initProgram = `package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"syscall"
)

func main() {
	fmt.Println("INIT-OK")
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil {
		fmt.Println("READ-ERROR:", err)
	}
	fmt.Printf("GOT:%s\n", strings.TrimSpace(line))
	// Scribble on the first disk, if there is one, so tests can check
	// where guest writes end up.
	if err := syscall.Mount("devtmpfs", "/dev", "devtmpfs", 0, ""); err == nil {
		if f, err := os.OpenFile("/dev/vda", os.O_WRONLY, 0); err == nil {
			if _, err := f.WriteAt([]byte("SCRIBBLED"), 0); err == nil && f.Sync() == nil {
				fmt.Println("WROTE-DISK")
			}
			f.Close()
		}
	}
	syscall.Sync()
	err = syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
	fmt.Println("POWER-OFF-FAILED:", err)
	select {}
}
`

// buildInitrd compiles initProgram for goarch and packs it as /init into a
// gzipped newc cpio archive, the initramfs format the kernel reads.
func buildInitrd(t *testing.T, goarch string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build the test's /init")
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module testinit\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(initProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(src, "init")
	cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building /init: %v\n%s", err, out)
	}
	initData, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(t.TempDir(), "initrd-"+goarch+".gz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	w := &cpioWriter{w: zw}
	w.add("dev", 0o040755, 0, 0, nil)
	// The kernel opens /dev/console as init's stdin and stdout; an
	// initramfs without it leaves init with no console at all.
	w.add("dev/console", 0o020600, 5, 1, nil)
	w.add("init", 0o100755, 0, 0, initData)
	w.add("TRAILER!!!", 0, 0, 0, nil)
	if w.err != nil {
		t.Fatal(w.err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// cpioWriter writes the "newc" cpio format (see the kernel's
// Documentation/driver-api/early-userspace/buffer-format.rst).
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
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.err = err
}

func (c *cpioWriter) pad() {
	if r := c.n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}

func (c *cpioWriter) add(name string, mode, rdevMajor, rdevMinor uint32, data []byte) {
	c.ino++
	nlink := 1
	if mode&0o170000 == 0o040000 {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	c.write([]byte(hdr))
	c.write(append([]byte(name), 0))
	c.pad()
	c.write(data)
	c.pad()
}
