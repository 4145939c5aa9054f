package rv6test_test

import (
	"strings"
	"testing"

	_ "github.com/rlgo/redleaf/rv6/progs/cat"
	_ "github.com/rlgo/redleaf/rv6/progs/echo"
	_ "github.com/rlgo/redleaf/rv6/progs/lspci"
	"github.com/rlgo/redleaf/rv6/rv6test"
)

func TestBoot(t *testing.T) {
	s := rv6test.Boot(t, rv6test.Options{DiskSize: 8 << 20})
	if s.FS.Blocks == 0 || s.FS.Device != "ramdisk" {
		t.Errorf("mounted: %+v", s.FS)
	}
	out, st := s.Run(t, "echo", "hi")
	if out != "hi\n" || !st.Exited || st.Status != 0 {
		t.Errorf("echo: %q %+v", out, st)
	}
	// Each RunInput gets its input and an end of input of its own.
	for _, in := range []string{"one\n", "", "two\nthree"} {
		if out, _ := s.RunInput(t, in, "cat"); out != in {
			t.Errorf("cat with input %q: %q", in, out)
		}
	}
	s.WriteFile(t, "/f", "data\nmore")
	if got := s.ReadFile(t, "/f"); got != "data\nmore" {
		t.Errorf("ReadFile: %q", got)
	}
	if out := s.MustRun(t, "lspci"); out != rv6test.LspciOutput {
		t.Errorf("lspci through the monitor: %q", out)
	}
	// A process that runs until stopped.
	p := s.Start(t, "more input\n", "cat")
	p.Type([]byte("and more\n"))
	p.Type(nil)
	out, st, err := p.Wait()
	if err != nil || out != "more input\nand more\n" || st.Status != 0 {
		t.Errorf("Start cat: %q %+v %v", out, st, err)
	}
}

func TestNoMonitor(t *testing.T) {
	s := rv6test.Boot(t, rv6test.Options{DiskSize: 8 << 20, NoMonitor: true})
	out, st := s.Run(t, "lspci")
	if st.Status == 0 || !strings.Contains(out, "lspci: monitor:") {
		t.Errorf("lspci without a monitor: %q %+v", out, st)
	}
}
