package all_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/rv6/rv6test"
)

// waitFor waits until the process's output contains want.
func waitFor(t *testing.T, p *rv6test.Proc, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.Output(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %q; output so far:\n%s", want, p.Output())
		}
		select {
		case <-p.Done():
			if !strings.Contains(p.Output(), want) {
				t.Fatalf("ended before writing %q; output:\n%s", want, p.Output())
			}
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestInit boots as the kernel does: init runs /etc/rc, then a shell on the
// console, starts another when it exits, and reaps orphans; Shutdown ends
// it.
func TestInit(t *testing.T) {
	s := rv6test.Boot(t, rv6test.Options{DiskSize: 16 << 20})
	s.MustRun(t, "mkdir", "/etc")
	s.WriteFile(t, "/etc/rc", "echo rc ran\necho rc > /rc.out\n")
	p := s.Start(t, "echo first shell\n", "init")
	waitFor(t, p, "first shell\n")
	if out := p.Output(); !strings.Contains(out, "rc ran\n") || strings.Index(out, "rc ran") > strings.Index(out, "first shell") {
		t.Errorf("/etc/rc did not run before the shell:\n%s", out)
	}
	// The shell exits (end of input, then an exit): init starts another.
	p.Type(nil)
	p.Type([]byte("echo second shell\n"))
	waitFor(t, p, "second shell\n")
	// An orphan: a background sleep outlives the shell that started it;
	// init reaps it.
	p.Type([]byte("sleep 0.05 &\nexit\n"))
	p.Type([]byte("sleep 0.3; ps; echo third shell\n"))
	waitFor(t, p, "third shell\n")
	out := p.Output()
	if i := strings.LastIndex(out, "PID"); i < 0 || strings.Contains(out[i:], "zombie") || strings.Contains(out[i:], "sleep 0.05") {
		t.Errorf("the orphan was not reaped:\n%s", out)
	}
	t.Logf("console:\n%s", out)
	s.Shutdown(t)
	out, st, err := p.Wait()
	if err != nil || !st.Killed {
		t.Errorf("init after Shutdown: %+v, %v; want killed\n%s", st, err, out)
	}
}

// TestScript runs a shell script over the programs, as the end-to-end
// test does on the booted system.
func TestScript(t *testing.T) {
	s := rv6test.Boot(t, rv6test.Options{DiskSize: 16 << 20})
	out := s.Script(t, `mkdir -p /s/t
echo hello > /s/t/f
cat /s/t/f | wc -c
ls /s/t | grep f
cp /s/t/f /s/g; mv /s/g /s/h; ln /s/h /s/i
cat /s/i
rm -r /s/t && echo removed
crash
echo after crash $?
`)
	for _, want := range []string{"6\n", "f\n", "hello\n", "removed\n", "after crash"} {
		if !strings.Contains(out, want) {
			t.Errorf("script output lacks %q:\n%s", want, out)
		}
	}
}
