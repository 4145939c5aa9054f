package suggest

import "testing"

func TestClosest(t *testing.T) {
	keys := []string{"arch", "kernel.cmdline", "kernel", "qemu.cpus"}
	for in, want := range map[string]string{"arhc": "arch", "Arch": "arch", "kernal": "kernel", "kernel.cmdlin": "kernel.cmdline", "zzzzzz": "", "": ""} {
		if got := Closest(in, keys); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
}
