package boot

import (
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// syncBuffer is a goroutine-safe strings.Builder.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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

// testKernel boots a dry-run kernel whose Exit records the codes.
func testKernel(t *testing.T, cmdline string) (*Kernel, *syncBuffer, *[]int) {
	t.Helper()
	var out syncBuffer
	var codes []int
	k := Init(Options{
		Console: &out,
		DryRun:  true,
		Cmdline: ParseCmdline(cmdline),
		Exit:    func(code int) { codes = append(codes, code) },
	})
	return k, &out, &codes
}

func TestInitDryRun(t *testing.T) {
	k, out, _ := testKernel(t, "console=ttyS0 rl.onfatal=reboot rl.shell=0 rl.debug rl.bogus=x")
	if !k.DryRun() {
		t.Fatal("not in dry-run mode")
	}
	want := Config{OnFatal: ActionReboot, Shell: false, Debug: true, Root: RootAuto}
	if k.Config != want {
		t.Errorf("Config = %+v, want %+v", k.Config, want)
	}
	if k.Reaper == nil || k.Console() != out {
		t.Error("Reaper or Console not set")
	}
	k2, out2, _ := testKernel(t, "rl.onfatal=sometimes")
	if k2.Config.OnFatal != ActionPoweroff || !strings.Contains(out2.String(), "rl.onfatal") {
		t.Errorf("bad rl.onfatal: config %+v, console %q", k2.Config, out2.String())
	}
	// Not PID 1: dry run whatever the options say.
	if !IsPID1() {
		k3 := Init(Options{Console: &syncBuffer{}, Cmdline: ParseCmdline("")})
		if !k3.DryRun() {
			t.Error("Init as non-PID 1 is not a dry run")
		}
	}
}

func TestBanner(t *testing.T) {
	k, _, _ := testKernel(t, "console=ttyS0,115200 rl.debug")
	var b strings.Builder
	k.Banner(&b)
	lines := strings.Split(b.String(), "\n")
	if !strings.HasPrefix(lines[0], BannerPrefix+" ") || !strings.Contains(lines[0], "(linux/") || !strings.Contains(lines[0], ", Linux ") {
		t.Errorf("banner line %q", lines[0])
	}
	if lines[0] != BannerLine() {
		t.Errorf("banner %q != BannerLine() %q", lines[0], BannerLine())
	}
	if lines[1] != "cmdline: console=ttyS0,115200 rl.debug" {
		t.Errorf("cmdline line %q", lines[1])
	}
	if BannerPrefix != "RedLeaf-Go domain kernel" {
		t.Error("the banner prefix changed: tests match it")
	}
}

func TestDryRunPowerExits(t *testing.T) {
	k, out, codes := testKernel(t, "")
	for _, f := range []func() error{k.Poweroff, k.Reboot, k.Halt} {
		if err := f(); !errors.Is(err, ErrDryRun) {
			t.Errorf("power in dry run = %v, want ErrDryRun", err)
		}
	}
	if len(*codes) != 3 || (*codes)[0] != 0 {
		t.Errorf("exit codes %v, want three 0s", *codes)
	}
	if !strings.Contains(out.String(), "would poweroff") || !strings.Contains(out.String(), "would reboot") {
		t.Errorf("console %q", out.String())
	}
}

func TestPowerNotPID1(t *testing.T) {
	if IsPID1() {
		t.Skip("running as PID 1: this would power off")
	}
	for _, f := range []func() error{Poweroff, Reboot, Halt} {
		if err := f(); !errors.Is(err, ErrNotPID1) {
			t.Errorf("got %v, want ErrNotPID1", err)
		}
	}
}

func TestMainDryRun(t *testing.T) {
	for _, tc := range []struct {
		name  string
		run   func(*Kernel) error
		codes []int
		msg   string
	}{
		{"returns", func(*Kernel) error { return nil }, nil, ""},
		{"error", func(*Kernel) error { return errors.New("boom") }, []int{1}, "fatal: main: boom"},
		{"panic", func(*Kernel) error { panic("kaboom") }, []int{1}, "fatal: main: panic: kaboom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out syncBuffer
			var codes []int
			ran := false
			Main(Options{Console: &out, DryRun: true, Cmdline: ParseCmdline(""), Exit: func(c int) { codes = append(codes, c) }},
				func(k *Kernel) error { ran = true; return tc.run(k) })
			if !ran {
				t.Fatal("run not called")
			}
			if len(codes) != len(tc.codes) || (len(codes) > 0 && codes[0] != tc.codes[0]) {
				t.Errorf("exit codes %v, want %v", codes, tc.codes)
			}
			if !strings.Contains(out.String(), tc.msg) {
				t.Errorf("console %q, want %q", out.String(), tc.msg)
			}
		})
	}
}

func TestSignalPolicy(t *testing.T) {
	for _, tc := range []struct {
		sig os.Signal
		pol SignalPolicy
		act Action
	}{
		{unix.SIGPWR, SignalPower, ActionPoweroff},
		{unix.SIGUSR2, SignalPower, ActionPoweroff},
		{unix.SIGUSR1, SignalPower, ActionHalt},
		{unix.SIGQUIT, SignalDumpStack, 0},
		{unix.SIGINT, SignalPower, ActionReboot},
		{unix.SIGTERM, SignalIgnore, 0},
		{unix.SIGHUP, SignalIgnore, 0},
		{unix.SIGABRT, SignalIgnore, 0},
	} {
		pol, act := SignalAction(tc.sig)
		if pol != tc.pol || (pol == SignalPower && act != tc.act) {
			t.Errorf("SignalAction(%v) = %v, %v; want %v, %v", tc.sig, pol, act, tc.pol, tc.act)
		}
	}
	// Every signal the Go runtime would die of is handled.
	handled := map[os.Signal]bool{}
	for _, s := range initSignals {
		handled[s] = true
	}
	for _, s := range []os.Signal{unix.SIGHUP, unix.SIGINT, unix.SIGTERM, unix.SIGQUIT, unix.SIGABRT, unix.SIGPWR} {
		if !handled[s] {
			t.Errorf("%v is not handled by PID 1", s)
		}
	}
}

func TestOnSignalDryRun(t *testing.T) {
	k, out, codes := testKernel(t, "")
	k.onSignal(unix.SIGTERM)
	k.onSignal(unix.SIGQUIT)
	k.onSignal(unix.SIGPWR)
	s := out.String()
	for _, want := range []string{"SIGTERM (terminated): ignored by PID 1", "SIGQUIT (quit): goroutine dump", "TestOnSignalDryRun", "SIGPWR (power failure): poweroff", "would poweroff"} {
		if !strings.Contains(s, want) {
			t.Errorf("console lacks %q:\n%s", want, s)
		}
	}
	if len(*codes) != 1 || (*codes)[0] != 0 {
		t.Errorf("exit codes %v", *codes)
	}
}

func TestGuard(t *testing.T) {
	k, _, codes := testKernel(t, "")
	k.Guard("ok", func() error { return nil })
	if len(*codes) != 0 {
		t.Errorf("Guard(nil error) exited: %v", *codes)
	}
	k.Guard("bad", func() error { panic(errors.New("x")) })
	if len(*codes) != 1 || (*codes)[0] != 1 {
		t.Errorf("Guard(panic) codes %v", *codes)
	}
	k.Debugf("hidden %d", 1)
}
