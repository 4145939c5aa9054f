package qemu

import (
	"slices"
	"strings"
	"testing"
)

func TestParseForward(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Forward
	}{
		{"8080:7000", Forward{8080, 7000}},
		{"1:65535", Forward{1, 65535}},
		{" 65535:1 ", Forward{65535, 1}},
	} {
		got, err := ParseForward(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseForward(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"8080", "want HOSTPORT:GUESTPORT"},
		{"", "want HOSTPORT:GUESTPORT"},
		{"1:2:3", "want HOSTPORT:GUESTPORT"},
		{"127.0.0.1:8080:7000", "want HOSTPORT:GUESTPORT"},
		{":7000", "no host port"},
		{"8080:", "no guest port"},
		{"0:7000", "host port 0 is out of range: want 1..65535"},
		{"8080:0", "guest port 0 is out of range"},
		{"65536:7000", "host port 65536 is out of range"},
		{"8080:99999999999999999999", `guest port "99999999999999999999" is not a number`},
		{"-1:7000", `host port "-1" is not a number`},
		{"http:7000", `host port "http" is not a number`},
		{"8080:7000/udp", `guest port "7000/udp" is not a number`},
	} {
		_, err := ParseForward(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--forward") {
			t.Errorf("ParseForward(%q) = %v; want an error naming --forward with %q", tc.in, err, tc.want)
		}
	}
}

func TestParseForwards(t *testing.T) {
	fs, err := ParseForwards([]string{"8080:7000", "8081:7000", "2222:22"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []Forward{{8080, 7000}, {8081, 7000}, {2222, 22}}; !slices.Equal(fs, want) {
		t.Errorf("got %v, want %v", fs, want)
	}
	if fs, err := ParseForwards(nil); err != nil || fs != nil {
		t.Errorf("no forwards: %v, %v", fs, err)
	}
	_, err = ParseForwards([]string{"8080:7000", "2222:22", "8080:80"})
	if err == nil || !strings.Contains(err.Error(), `host port 8080 is already forwarded by --forward "8080:7000"`) {
		t.Errorf("duplicate host port: %v", err)
	}
	_, err = ParseForwards([]string{"8080:7000", "x"})
	if err == nil || !strings.Contains(err.Error(), `--forward "x"`) {
		t.Errorf("bad second forward: %v", err)
	}
}

func TestForwardArgs(t *testing.T) {
	k, i, d := artifacts(t)
	c := Config{Arch: "amd64", Mode: Kernel, Kernel: k, Initrd: i, Cmdline: "console=ttyS0"}
	if err := c.AddForwards([]Forward{{8080, 7000}, {2222, 22}}); err != nil {
		t.Fatal(err)
	}
	_, args := mustArgs(t, c, t.TempDir())
	want(t, args,
		[]string{"-netdev", "user,id=rlfwd0,hostfwd=tcp:127.0.0.1:8080-10.0.2.15:7000,hostfwd=tcp:127.0.0.1:2222-10.0.2.15:22"},
		[]string{"-device", "virtio-net-pci,netdev=rlfwd0,mac=52:54:00:72:6c:01"},
		[]string{"-append", "console=ttyS0 rl.net=virtio rl.netmac=52:54:00:72:6c:01 rl.netstack=1 rl.netaddr=10.0.2.15/24"})

	// No forwards: nothing added.
	c = Config{Arch: "amd64", Mode: Kernel, Kernel: k}
	if err := c.AddForwards(nil); err != nil || c.Cmdline != "" || c.ExtraArgs != nil {
		t.Errorf("no forwards changed the config: %+v, %v", c, err)
	}

	// The disk modes boot their own command line.
	for _, m := range []Mode{UEFI, BIOS, PXE} {
		c := Config{Arch: "amd64", Mode: m, Disk: d}
		err := c.AddForwards([]Forward{{8080, 7000}})
		if err == nil || !strings.Contains(err.Error(), "--forward needs kernel mode (--mode kernel)") {
			t.Errorf("%s mode: %v", m, err)
		}
		if c.ExtraArgs != nil {
			t.Errorf("%s mode: refused forwards added %q", m, c.ExtraArgs)
		}
	}
}
