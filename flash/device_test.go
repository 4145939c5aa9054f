package flash

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fixture builds the recorded tree testdata/NAME.txtar in a temporary
// directory and returns a Host reading it. See the format in the file.
func fixture(t *testing.T, name string) Host {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name+".txtar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	root := t.TempDir()
	var cur *os.File
	closeCur := func() {
		if cur != nil {
			if err := cur.Close(); err != nil {
				t.Fatal(err)
			}
			cur = nil
		}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		header, isHeader := strings.CutPrefix(line, "-- ")
		header, closed := strings.CutSuffix(header, " --")
		if !isHeader || !closed {
			if cur != nil {
				cur.WriteString(line + "\n")
			}
			continue
		}
		closeCur()
		path, target, isLink := strings.Cut(header, " -> ")
		full := filepath.Join(root, filepath.FromSlash(path))
		if strings.HasSuffix(path, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if isLink {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if cur, err = os.Create(full); err != nil {
			t.Fatal(err)
		}
	}
	closeCur()
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return Host{
		Sys:       filepath.Join(root, "sys"),
		MountInfo: filepath.Join(root, "proc/self/mountinfo"),
		Swaps:     filepath.Join(root, "proc/swaps"),
		Dev:       filepath.Join(root, "dev"),
	}
}

// laptopDevices returns the devices of testdata/laptop.txtar by name.
func laptopDevices(t *testing.T) (Host, map[string]*Device) {
	t.Helper()
	h := fixture(t, "laptop")
	devs, err := h.Devices()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Device{}
	var names []string
	for _, d := range devs {
		byName[d.Name] = d
		names = append(names, d.Name)
	}
	// Unbound loop devices, zram and device-mapper are no candidates.
	if want := []string{"loop0", "mmcblk0", "nvme0n1", "sda", "sdb"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("Devices() = %v, want %v", names, want)
	}
	return h, byName
}

func TestDiscovery(t *testing.T) {
	h, devs := laptopDevices(t)
	dev := func(name string) string { return filepath.Join(h.Dev, name) }
	for _, tc := range []struct {
		name      string
		bus       Bus
		model     string
		size      int64
		removable bool
		readOnly  bool
		holdsRoot bool
		parts     []string
		mounts    []Mount
		holders   []string
	}{
		{name: "nvme0n1", bus: BusNVMe, model: "Samsung SSD 980 PRO 1TB", size: 1953525168 * 512, holdsRoot: true,
			parts: []string{"nvme0n1p1", "nvme0n1p2", "nvme0n1p3"},
			mounts: []Mount{
				{Source: "/dev/nvme0n1p2", Point: "/", FSType: "ext4"},
				{Source: "/dev/nvme0n1p1", Point: "/boot/efi", FSType: "vfat"},
				{Source: "/dev/mapper/home", Point: "/home", FSType: "ext4"},
			},
			holders: []string{"dm-0"}},
		{name: "sda", bus: BusSATA, model: "WDC WD20EZRZ-00Z", size: 3907029168 * 512, parts: []string{"sda1"}},
		{name: "sdb", bus: BusUSB, model: "SanDisk Ultra", size: 60062500 * 512, removable: true, parts: []string{"sdb1"},
			mounts: []Mount{{Source: "/dev/sdb1", Point: "/media/user/STICK DATA", FSType: "vfat"}}},
		{name: "mmcblk0", bus: BusMMC, model: "SC32G", size: 62333952 * 512, removable: true, readOnly: true, parts: []string{"mmcblk0p1"}},
		{name: "loop0", bus: BusLoop, model: "loop on /home/user/images/rlgo.img", size: 128 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := devs[tc.name]
			if d.Path != dev(tc.name) || d.Bus != tc.bus || d.describeModel() != tc.model || d.Size != tc.size {
				t.Errorf("%s: path %s, bus %s, model %q, size %d; want %s, %s, %q, %d", tc.name, d.Path, d.Bus, d.describeModel(), d.Size, dev(tc.name), tc.bus, tc.model, tc.size)
			}
			if d.Removable != tc.removable || d.ReadOnly != tc.readOnly || d.HoldsRoot != tc.holdsRoot {
				t.Errorf("removable %v, read-only %v, holds / %v; want %v, %v, %v", d.Removable, d.ReadOnly, d.HoldsRoot, tc.removable, tc.readOnly, tc.holdsRoot)
			}
			var parts []string
			for _, p := range d.Partitions {
				parts = append(parts, p.Name)
			}
			if !reflect.DeepEqual(parts, tc.parts) {
				t.Errorf("partitions %v, want %v", parts, tc.parts)
			}
			if !reflect.DeepEqual(d.Mounts, tc.mounts) {
				t.Errorf("mounts %+v, want %+v", d.Mounts, tc.mounts)
			}
			if !reflect.DeepEqual(d.Holders, tc.holders) {
				t.Errorf("holders %v, want %v", d.Holders, tc.holders)
			}
		})
	}
	p2 := devs["nvme0n1"].Partitions[1]
	if p2.Number != 2 || p2.Start != 1050624*512 || p2.Size != 209715200*512 || !reflect.DeepEqual(p2.Mounts, []string{"/"}) {
		t.Errorf("nvme0n1p2 = %+v", p2)
	}
	if d := devs["loop0"]; !d.Discard || !d.WriteZeroes || d.LogicalBlockSize != 512 {
		t.Errorf("loop0: discard %v, write zeroes %v, logical block size %d", d.Discard, d.WriteZeroes, d.LogicalBlockSize)
	}
}

// TestRefusalsOfRecordedDevices checks the refusals that loop devices
// cannot show: a system disk and a fixed disk.
func TestRefusalsOfRecordedDevices(t *testing.T) {
	h, devs := laptopDevices(t)
	small := target{size: 64 << 20, file: "/tmp/disk.img"}
	for _, tc := range []struct {
		name string
		t    target
		want []Reason
	}{
		{"nvme0n1", small, []Reason{HoldsRoot, Mounted, InUse, NotRemovable}},
		{"nvme0n1", target{size: 64 << 20, forced: true}, []Reason{HoldsRoot, Mounted, InUse}},
		{"sda", small, []Reason{NotRemovable}},
		{"sda", target{size: 64 << 20, forced: true}, nil},
		{"sdb", small, []Reason{Mounted}},
		{"mmcblk0", small, []Reason{ReadOnly}},
		{"loop0", small, nil},
		{"loop0", target{size: 129 << 20}, []Reason{TooSmall}},
	} {
		err := check(devs[tc.name], tc.t)
		var got []Reason
		for r := NotWholeDisk; r <= Busy; r++ {
			if Refused(err, r) {
				got = append(got, r)
			}
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("check(%s, %+v) = %v (%v), want reasons %v", tc.name, tc.t, got, err, tc.want)
		}
	}

	// The image on /home is on the dm-crypt volume on nvme0n1p3.
	env, err := h.environment()
	if err != nil {
		t.Fatal(err)
	}
	onHome := target{size: 64 << 20, devs: h.below(mkdev(254, 0), env.mounts), file: "/home/user/disk.img"}
	if err := check(devs["nvme0n1"], onHome); !Refused(err, HoldsImage) {
		t.Errorf("image on /home: check(nvme0n1) = %v, want HoldsImage", err)
	}
	if err := check(devs["sdb"], onHome); Refused(err, HoldsImage) {
		t.Errorf("image on /home: check(sdb) = %v, want no HoldsImage", err)
	}
	err = check(devs["nvme0n1"], small)
	for _, want := range []string{
		"refusing to write " + devs["nvme0n1"].Path + ":\n  - it holds the running system's root file system (/)\n",
		"/dev/nvme0n1p1 is mounted at /boot/efi",
		"dm-0 is built on it",
		"it is a fixed nvme disk (Samsung SSD 980 PRO 1TB), not removable media: if you are sure, name it with --force",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestWriteList(t *testing.T) {
	h, _ := laptopDevices(t)
	devs, err := h.Devices()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := WriteList(&b, devs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"DEVICE", "REMOVABLE",
		"931.5 GiB  nvme", "Samsung SSD 980 PRO 1TB", "holds /; /dev/mapper/home at /home; used by dm-0",
		"nvme0n1p2", "mounted at /",
		"28.6 GiB", "usb", "SanDisk Ultra", "mounted at /media/user/STICK DATA",
		"read-only",
		"(loop)", "loop on /home/user/images/rlgo.img",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
}

func TestMountInfoEscapes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mountinfo")
	line := `36 35 98:0 /mnt1 /mnt/a\040b\134c rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue` + "\n"
	if err := os.WriteFile(path, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	ms, err := readMountInfo(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []mountEntry{{dev: mkdev(98, 0), point: `/mnt/a b\c`, fstype: "ext3", source: "/dev/root"}}
	if !reflect.DeepEqual(ms, want) {
		t.Errorf("readMountInfo = %+v, want %+v", ms, want)
	}
	if err := os.WriteFile(path, []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readMountInfo(path); err == nil {
		t.Error("readMountInfo accepted garbage")
	}
}

func TestDevNum(t *testing.T) {
	for _, tc := range [][2]uint32{{8, 16}, {259, 3}, {7, 300}, {4095, 1 << 19}} {
		d := mkdev(tc[0], tc[1])
		if major(d) != tc[0] || minor(d) != tc[1] {
			t.Errorf("mkdev(%d, %d) = %#x: major %d minor %d", tc[0], tc[1], d, major(d), minor(d))
		}
	}
}
