package console_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rlgo/redleaf/lab/console"
	"github.com/rlgo/redleaf/lab/power"
	"github.com/rlgo/redleaf/lab/vbmc"
	"github.com/rlgo/redleaf/lab/vbmc/vbmctest"
)

// syncBuffer is a log file stand-in that tests can read while it grows.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// SeaBIOS announces itself on the serial port when a VM powers on.
var seabios = regexp.MustCompile(`SeaBIOS \(version`)

func TestQEMUSerial(t *testing.T) {
	vm := vbmctest.Start(t, false)
	var log syncBuffer
	c, err := console.Open(context.Background(), console.Spec{Type: "qemu", Address: vm.Serial}, power.Spec{Machine: "vm1"}, &log)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := console.NewMatcher(c, nil, nil)
	pw, err := power.Open(context.Background(), power.Spec{Type: "qemu", Address: vm.QMP, Machine: "vm1"})
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	if err := pw.Set(context.Background(), power.ActionOn); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ExpectTimeout(2*time.Minute, seabios); err != nil {
		t.Fatal(err)
	}
	if !seabios.MatchString(log.String()) {
		t.Errorf("the log lacks what the console read:\n%s", log.String())
	}
}

func TestSOL(t *testing.T) {
	vm := vbmctest.Start(t, false)
	t.Setenv("SOL_PW", "sol-pass")
	bmc, err := vbmc.Start(context.Background(), vbmc.Config{Name: "vm1", QMPSocket: vm.QMP, SerialSocket: vm.Serial,
		User: "lab", Password: "sol-pass", IPMI: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer bmc.Close()
	pw := power.Spec{Type: "ipmi", Address: bmc.IPMIAddr, User: "lab", PasswordEnv: "SOL_PW", Machine: "vm1"}
	var log syncBuffer
	c, err := console.Open(context.Background(), console.Spec{Type: "sol"}, pw, &log)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := console.NewMatcher(c, nil, nil)
	if err := bmc.Machine.SetPower(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ExpectTimeout(2*time.Minute, seabios); err != nil {
		t.Fatal(err)
	}
	if !seabios.MatchString(log.String()) {
		t.Errorf("the log lacks what SOL read:\n%s", log.String())
	}

	// The serial port has one SOL session at a time.
	_, err = console.Open(context.Background(), console.Spec{Type: "sol"}, pw, nil)
	var ce *console.Error
	if !errors.As(err, &ce) || ce.Op != "open" {
		t.Errorf("a second SOL session: err = %v, want a *console.Error", err)
	}
	t.Setenv("SOL_PW", "wrong")
	if _, err := console.Open(context.Background(), console.Spec{Type: "sol"}, pw, nil); err == nil {
		t.Error("SOL with a wrong password attached")
	}
}

// openPTY returns a pseudo-terminal's master and its slave's path: a
// serial line whose far end the test holds.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave := fmt.Sprintf("/dev/pts/%d", n)
	// Raw on both sides before anyone opens the slave: bytes written to
	// the master before ser2net has opened the slave would otherwise be
	// cooked (CR to NL) by the pty's default settings.
	s, err := os.OpenFile(slave, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []*os.File{m, s} {
		tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		tio.Iflag &^= unix.ICRNL | unix.IXON
		tio.Lflag &^= unix.ECHO | unix.ICANON | unix.ISIG
		tio.Oflag &^= unix.OPOST
		if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, tio); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	return m, slave
}

// roundTrip checks that what the machine's end writes arrives on c (and in
// the log), and what c writes arrives at the machine's end.
func roundTrip(t *testing.T, c console.Conn, machine io.ReadWriter, log *syncBuffer) {
	t.Helper()
	if _, err := machine.Write([]byte("login: \r\n")); err != nil {
		t.Fatal(err)
	}
	m := console.NewMatcher(c, nil, nil)
	if _, err := m.ExpectTimeout(30*time.Second, regexp.MustCompile(`login: `)); err != nil {
		t.Fatal(err)
	}
	if err := m.SendLine("root"); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		var b []byte
		buf := make([]byte, 64)
		for !bytes.Contains(b, []byte("root")) {
			n, err := machine.Read(buf)
			if err != nil {
				break
			}
			b = append(b, buf[:n]...)
		}
		got <- string(b)
	}()
	select {
	case s := <-got:
		if !strings.Contains(s, "root") {
			t.Errorf("the machine got %q", s)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("what the console typed never reached the machine")
	}
	if log.String() != "login: \r\n" {
		t.Errorf("log = %q, want every byte read, CRs and all", log.String())
	}
}

func TestSerialDevice(t *testing.T) {
	master, slave := openPTY(t)
	var log syncBuffer
	c, err := console.Open(context.Background(), console.Spec{Type: "serial", Address: slave, Baud: 115200}, power.Spec{}, &log)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, c, master, &log)
	if _, err := console.Open(context.Background(), console.Spec{Type: "serial", Address: "/dev/null"}, power.Spec{Machine: "m1"}, nil); err == nil || !strings.Contains(err.Error(), "not a serial device") {
		t.Errorf("opening /dev/null as a serial line: err = %v", err)
	}
}

func TestSer2net(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ser2net")
	}
	bin, err := exec.LookPath("ser2net")
	if err != nil {
		t.Skip("ser2net not installed (Debian package ser2net)")
	}
	master, slave := openPTY(t)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	host, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	conf := filepath.Join(dir, "ser2net.yaml")
	yaml := fmt.Sprintf("connection: &con0\n  accepter: tcp,%s,%s\n  connector: serialdev,%s,115200n81,local\n  options:\n    kickolduser: true\n", host, port, slave)
	if err := os.WriteFile(conf, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-n", "-u", "-c", conf, "-P", filepath.Join(dir, "pid"))
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() { cmd.Process.Kill(); <-exited }()
	var c console.Conn
	deadline := time.Now().Add(30 * time.Second)
	var log syncBuffer
	for {
		c, err = console.Open(context.Background(), console.Spec{Type: "tcp", Address: addr}, power.Spec{}, &log)
		if err == nil {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("ser2net exited: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ser2net did not listen: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer c.Close()
	roundTrip(t, c, master, &log)
}

func TestTripwires(t *testing.T) {
	pats, err := console.CompileTripwires(append(console.DefaultTripwires(), `SUITE ABORT`))
	if err != nil {
		t.Fatal(err)
	}
	out := "booting\r\nnvme nvme0: I/O 12 QID 1 timeout, aborting\r\nok\r\n" +
		"fatal error: concurrent map writes\r\n\r\ngoroutine 7 [running]:\r\nmain.f()\r\n" +
		"[   12.3] Kernel panic - not syncing: Attempted to kill init!\r\n" +
		"rv6: the file system panicked and was restarted\r\nSUITE ABORT"
	var got []string
	// Fed a byte at a time, as a serial line delivers it.
	w := console.NewLineWatcher(pats, func(line string) { got = append(got, line) })
	for i := range len(out) {
		w.Write([]byte{out[i]})
	}
	w.Flush()
	want := []string{
		"nvme nvme0: I/O 12 QID 1 timeout, aborting",
		"fatal error: concurrent map writes",
		"goroutine 7 [running]:",
		"[   12.3] Kernel panic - not syncing: Attempted to kill init!",
		"SUITE ABORT",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("tripped on\n%q\nwant\n%q", got, want)
	}
	if _, err := console.CompileTripwires([]string{"("}); err == nil || !strings.Contains(err.Error(), `"("`) {
		t.Errorf("a bad pattern: err = %v, want it named", err)
	}
}

func TestValidate(t *testing.T) {
	for _, s := range []console.Spec{{}, {Type: "vga"}, {Type: "tcp", Address: "host"}, {Type: "serial", Address: "ttyS0"},
		{Type: "serial", Address: "/dev/ttyS0", Baud: 1234}, {Type: "sol", Address: "x"}, {Type: "qemu"}, {Type: "tcp", Address: "h:1", Baud: 9600}} {
		if err := s.Validate(); err == nil {
			t.Errorf("%+v validated", s)
		}
	}
	for _, s := range []console.Spec{{Type: "tcp", Address: "h:3001"}, {Type: "serial", Address: "/dev/ttyUSB0"}, {Type: "sol"}, {Type: "qemu", Address: "/run/s"}} {
		if err := s.Validate(); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
}
