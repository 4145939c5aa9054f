package qemu

import (
	"strings"
	"testing"
)

func TestParseLinuxForwards(t *testing.T) {
	got, err := ParseLinuxForwards([]string{"18080:80", "15001:5001"}, []Forward{{8080, 80}})
	if err != nil || len(got) != 2 || got[0] != (Forward{18080, 80}) || got[1] != (Forward{15001, 5001}) {
		t.Fatalf("%v, %v", got, err)
	}
	for _, tc := range []struct {
		specs []string
		want  string
	}{
		{[]string{"8080:80"}, `--linux-forward "8080:80": host port 8080 is already forwarded by --forward "8080:80"`},
		{[]string{"9000:80", "9000:81"}, `--linux-forward "9000:81": host port 9000 is already forwarded by --linux-forward "9000:80"`},
		{[]string{"x"}, `--linux-forward "x": want HOSTPORT:GUESTPORT`},
		{[]string{"1:0"}, `--linux-forward "1:0": guest port 0 is out of range`},
	} {
		if _, err := ParseLinuxForwards(tc.specs, []Forward{{8080, 80}}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.specs, err, tc.want)
		}
	}
}

func TestLinuxForwardArgs(t *testing.T) {
	k, i, d := artifacts(t)
	c := Config{Arch: "amd64", Mode: Kernel, Kernel: k, Initrd: i, Cmdline: "console=ttyS0"}
	if err := c.AddForwards([]Forward{{8080, 80}}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddLinuxForwards([]Forward{{18080, 80}, {15001, 5001}}); err != nil {
		t.Fatal(err)
	}
	_, args := mustArgs(t, c, t.TempDir())
	want(t, args,
		[]string{"-netdev", "user,id=rlfwd0,hostfwd=tcp:127.0.0.1:8080-10.0.2.15:80"},
		[]string{"-netdev", "user,id=rllinux0,net=10.0.3.0/24,hostfwd=tcp:127.0.0.1:18080-10.0.3.15:80,hostfwd=tcp:127.0.0.1:15001-10.0.3.15:5001"},
		[]string{"-device", "virtio-net-pci,netdev=rllinux0,mac=52:54:00:72:6c:02"},
		[]string{"-append", "console=ttyS0 rl.net=virtio rl.netmac=52:54:00:72:6c:01 rl.netstack=1 rl.netaddr=10.0.2.15/24 rl.linuxnet=52:54:00:72:6c:02 rl.linuxnetaddr=10.0.3.15/24"})

	c = Config{Arch: "amd64", Mode: Kernel, Kernel: k}
	if err := c.AddLinuxForwards(nil); err != nil || c.Cmdline != "" || c.ExtraArgs != nil {
		t.Errorf("no forwards changed the config: %+v, %v", c, err)
	}
	for _, m := range []Mode{UEFI, BIOS, PXE} {
		c := Config{Arch: "amd64", Mode: m, Disk: d}
		err := c.AddLinuxForwards([]Forward{{18080, 80}})
		if err == nil || !strings.Contains(err.Error(), "--linux-forward needs kernel mode (--mode kernel)") || c.ExtraArgs != nil {
			t.Errorf("%s mode: %v, %q", m, err, c.ExtraArgs)
		}
	}
}
