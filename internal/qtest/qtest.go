// Package qtest runs QEMU without a guest, under its qtest protocol, so that
// tests drive QEMU's device models from the host: port I/O (PCI config
// through 0xcf8/0xcfc), MMIO (readl/writel) and guest RAM, which lives in a
// shared memory-backend file the test maps, for DMA.
//
// It is test support: the device substrate's register and DMA accessor
// types (kernel/hw) are backed here by the qtest transport, so the driver
// code under test is the code that runs on hardware.
package qtest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Binary is the QEMU used.
const Binary = "qemu-system-x86_64"

// A Machine is a QEMU process under qtest.
type Machine struct {
	// RAM is guest physical memory [0, len(RAM)), shared with QEMU.
	RAM []byte

	cmd  *exec.Cmd
	conn net.Conn
	r    *bufio.Reader
	mu   sync.Mutex
	dead error

	waitExit chan error
}

// Options configure a Machine.
type Options struct {
	MemMiB int      // guest RAM (default 256)
	Args   []string // device arguments (-drive, -device ...)
}

// Available reports why QEMU cannot be used here ("" if it can).
func Available() string {
	if _, err := exec.LookPath(Binary); err != nil {
		return Binary + " not installed"
	}
	return ""
}

// Start starts QEMU; the test's cleanup stops it. It skips the test when
// QEMU is missing.
func Start(tb testing.TB, o Options) *Machine {
	tb.Helper()
	if why := Available(); why != "" {
		tb.Skip(why)
	}
	if o.MemMiB == 0 {
		o.MemMiB = 256
	}
	dir := tb.TempDir()
	ramPath := filepath.Join(dir, "ram")
	size := o.MemMiB << 20
	f, err := os.Create(ramPath)
	if err != nil {
		tb.Fatal(err)
	}
	if err := f.Truncate(int64(size)); err != nil {
		tb.Fatal(err)
	}
	ram, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	f.Close()
	if err != nil {
		tb.Fatal(err)
	}
	// Debian's QEMU has no qtest accelerator: the CPU runs under TCG, on
	// firmware that is nothing but HLT (reset vector included, interrupts
	// off), so that no guest code touches the devices while the virtual
	// clock, which device models' timers need, runs.
	bios := filepath.Join(dir, "halt.bin")
	if err := os.WriteFile(bios, bytes.Repeat([]byte{0xf4}, 64<<10), 0o644); err != nil {
		tb.Fatal(err)
	}
	sock := filepath.Join(dir, "qtest.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	args := []string{
		"-machine", "q35,memory-backend=mem", "-accel", "tcg", "-bios", bios,
		"-qtest", "unix:" + sock, "-qtest-log", "/dev/null",
		"-display", "none", "-nodefaults", "-nographic", "-monitor", "none", "-serial", "none",
		"-object", fmt.Sprintf("memory-backend-file,id=mem,size=%dM,mem-path=%s,share=on", o.MemMiB, ramPath),
		"-m", fmt.Sprintf("%dM", o.MemMiB),
	}
	args = append(args, o.Args...)
	cmd := exec.Command(Binary, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	m := &Machine{RAM: ram, cmd: cmd}
	tb.Cleanup(m.stop)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	select {
	case c := <-accepted:
		m.conn, m.r = c, bufio.NewReader(c)
	case err := <-exited:
		tb.Fatalf("qtest: QEMU exited before connecting: %v: %s", err, stderr.String())
	case <-time.After(20 * time.Second):
		tb.Fatalf("qtest: QEMU did not connect in 20 s: %s", stderr.String())
	}
	m.waitExit = exited
	return m
}

func (m *Machine) stop() {
	if m.conn != nil {
		m.conn.Close()
	}
	if m.cmd.Process != nil {
		m.cmd.Process.Kill()
		if m.waitExit != nil {
			select {
			case <-m.waitExit:
			case <-time.After(5 * time.Second):
			}
		}
	}
	if m.RAM != nil {
		unix.Munmap(m.RAM)
		m.RAM = nil
	}
}

// Cmd sends one qtest command and returns the words after "OK". An error
// of the transport panics: a test's QEMU that stopped answering is fatal
// to the test, and the driver code under test must not see it as a device
// error.
func (m *Machine) Cmd(format string, args ...any) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead != nil {
		panic(m.dead)
	}
	line := fmt.Sprintf(format, args...)
	m.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(m.conn, "%s\n", line); err != nil {
		m.dead = fmt.Errorf("qtest: %s: %w", line, err)
		panic(m.dead)
	}
	for {
		resp, err := m.r.ReadString('\n')
		if err != nil {
			m.dead = fmt.Errorf("qtest: %s: %w", line, err)
			panic(m.dead)
		}
		f := strings.Fields(resp)
		if len(f) > 0 && f[0] == "IRQ" {
			continue // asynchronous interrupt notice
		}
		if len(f) == 0 || f[0] != "OK" {
			m.dead = fmt.Errorf("qtest: %s: %q", line, resp)
			panic(m.dead)
		}
		return f[1:]
	}
}

func (m *Machine) value(words []string) uint64 {
	if len(words) < 1 {
		panic("qtest: reply without a value")
	}
	v, err := strconv.ParseUint(words[0], 0, 64)
	if err != nil {
		panic(fmt.Sprintf("qtest: value %q: %v", words[0], err))
	}
	return v
}

// Outl, Inl, Outw, Inw: port I/O.
func (m *Machine) Outl(port uint16, v uint32) { m.Cmd("outl 0x%x 0x%x", port, v) }
func (m *Machine) Inl(port uint16) uint32     { return uint32(m.value(m.Cmd("inl 0x%x", port))) }
func (m *Machine) Outw(port uint16, v uint16) { m.Cmd("outw 0x%x 0x%x", port, v) }
func (m *Machine) Inw(port uint16) uint16     { return uint16(m.value(m.Cmd("inw 0x%x", port))) }

// Readl and Writel: 32-bit MMIO.
func (m *Machine) Readl(addr uint64) uint32     { return uint32(m.value(m.Cmd("readl 0x%x", addr))) }
func (m *Machine) Writel(addr uint64, v uint32) { m.Cmd("writel 0x%x 0x%x", addr, v) }
