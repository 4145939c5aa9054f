package disk

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/partition"
	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/diskfs/go-diskfs/partition/mbr"

	"github.com/rlgo/redleaf/host"
)

// inputs writes a small fake kernel and initrd. Their bytes are not all
// alike so a misplaced cluster would show.
func inputs(t *testing.T) (kernel, initrd string) {
	t.Helper()
	dir := t.TempDir()
	k := make([]byte, 3<<20+1234) // several chunks of clusters, odd tail
	for i := range k {
		k[i] = byte(i*7 + i>>9)
	}
	kernel = filepath.Join(dir, "vmlinuz")
	initrd = filepath.Join(dir, "initrd.gz")
	if err := os.WriteFile(kernel, k, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(initrd, []byte("not really a cpio archive\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return kernel, initrd
}

func testSpec(t *testing.T) Spec {
	kernel, initrd := inputs(t)
	return Spec{
		Arch:    "amd64",
		Kernel:  kernel,
		Initrd:  initrd,
		Cmdline: "console=ttyS0,115200 rlgo.test=1",
		Title:   "RedLeaf-Go (test)",
		Seed:    "config-hash-1",
		UEFI:    true,
		BIOS:    true,
		Time:    time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
	}
}

func build(t *testing.T, spec Spec) (string, *Info) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.img")
	info, err := Build(path, spec)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return path, info
}

func TestBuild(t *testing.T) {
	spec := testSpec(t)
	path, info := build(t, spec)

	if want := int64(130 << 20); info.Size != want || info.ESPOffset != 1<<20 || info.ESPSize != 128<<20 {
		t.Errorf("Info = size %d, ESP at %d of %d; want size %d, ESP at 1 MiB of 128 MiB", info.Size, info.ESPOffset, info.ESPSize, want)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != info.Size {
		t.Errorf("image: %v, size %d, want %d", err, st.Size(), info.Size)
	}
	if info.DiskGUID != seedGUID(spec.Seed, "gpt disk") || info.ESPGUID != seedGUID(spec.Seed, "gpt esp partition") {
		t.Errorf("GUIDs %s, %s are not the ones derived from the seed", info.DiskGUID, info.ESPGUID)
	}

	checkGPT(t, path, info, true)

	mbr, err := os.ReadFile(hostFile(t, host.SyslinuxGPTMBR))
	if err != nil {
		t.Fatal(err)
	}
	img := readFile(t, path)
	if !bytes.Equal(img[:len(mbr)], mbr) {
		t.Error("MBR boot code is not syslinux's gptmbr.bin")
	}

	esp := readESP(t, path)
	wantSame := map[string]string{
		"/rlgo/linux":           spec.Kernel,
		"/rlgo/initrd":          spec.Initrd,
		"/EFI/BOOT/BOOTX64.EFI": hostFile(t, host.SystemdBootX64),
	}
	for p, hostPath := range wantSame {
		if !bytes.Equal(esp[p], readFile(t, hostPath)) {
			t.Errorf("ESP %s (%d bytes) differs from %s", p, len(esp[p]), hostPath)
		}
	}
	for _, want := range []string{"timeout 0", "default rlgo.conf"} {
		if !strings.Contains(string(esp["/loader/loader.conf"]), want) {
			t.Errorf("loader.conf lacks %q:\n%s", want, esp["/loader/loader.conf"])
		}
	}
	entry := string(esp["/loader/entries/rlgo.conf"])
	for _, want := range []string{"title " + spec.Title, "linux /rlgo/linux", "initrd /rlgo/initrd", "options " + spec.Cmdline + "\n"} {
		if !strings.Contains(entry, want) {
			t.Errorf("loader entry lacks %q:\n%s", want, entry)
		}
	}
	cfg := string(esp["/syslinux/syslinux.cfg"])
	if !strings.HasPrefix(cfg, "SERIAL 0 115200\n") {
		t.Errorf("syslinux.cfg does not start with SERIAL:\n%s", cfg)
	}
	for _, want := range []string{"PROMPT 0", "TIMEOUT 0", "LINUX /rlgo/linux", "INITRD /rlgo/initrd", "APPEND " + spec.Cmdline + "\n"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("syslinux.cfg lacks %q:\n%s", want, cfg)
		}
	}
	for _, p := range []string{"/syslinux/ldlinux.sys", "/syslinux/ldlinux.c32"} {
		if len(esp[p]) == 0 {
			t.Errorf("ESP has no %s", p)
		}
	}
	if got, want := strings.Join(info.Files, " "), "/rlgo/linux /rlgo/initrd /EFI/BOOT/BOOTX64.EFI /loader/loader.conf /loader/entries/rlgo.conf /syslinux/syslinux.cfg /syslinux/ldlinux.sys /syslinux/ldlinux.c32"; got != want {
		t.Errorf("Info.Files = %s, want %s", got, want)
	}
	for _, p := range info.Files {
		if _, ok := esp[p]; !ok {
			t.Errorf("Info.Files lists %s, which is not on the ESP", p)
		}
	}

	checkFAT(t, path, info, spec.Time)
}

func TestUEFIOnly(t *testing.T) {
	spec := testSpec(t)
	spec.BIOS = false
	spec.Initrd = ""
	spec.ESPSize = 64 << 20
	spec.Size = 100 << 20
	path, info := build(t, spec)
	if info.Size != 100<<20 || info.ESPSize != 64<<20 {
		t.Errorf("Info = size %d, ESP %d; want 100 MiB, 64 MiB", info.Size, info.ESPSize)
	}
	checkGPT(t, path, info, false)
	if img := readFile(t, path); !bytes.Equal(img[:gptMBRSize], make([]byte, gptMBRSize)) {
		t.Error("MBR boot code written without BIOS")
	}
	esp := readESP(t, path)
	for p := range esp {
		if strings.HasPrefix(p, "/syslinux") || p == "/rlgo/initrd" {
			t.Errorf("ESP has %s", p)
		}
	}
	if entry := string(esp["/loader/entries/rlgo.conf"]); strings.Contains(entry, "initrd") {
		t.Errorf("loader entry names an initrd without one:\n%s", entry)
	}
	checkFAT(t, path, info, spec.Time)
}

func TestBIOSOnly(t *testing.T) {
	spec := testSpec(t)
	spec.UEFI = false
	spec.Time = time.Time{} // clamped to 1980-01-01
	// At 64 MiB go-diskfs' FAT is two entries short: fixFAT must shrink
	// the file system before syslinux and fsck.fat look at it.
	spec.ESPSize = 64 << 20
	path, info := build(t, spec)
	checkGPT(t, path, info, true)
	esp := readESP(t, path)
	for p := range esp {
		if strings.HasPrefix(p, "/EFI") || strings.HasPrefix(p, "/loader") {
			t.Errorf("ESP has %s without UEFI", p)
		}
	}
	checkFAT(t, path, info, time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC))
}

func TestReproducible(t *testing.T) {
	spec := testSpec(t)
	a, infoA := build(t, spec)
	// Let the clock move so that any timestamp from it would show.
	time.Sleep(2100 * time.Millisecond)
	b, infoB := build(t, spec)
	if !bytes.Equal(readFile(t, a), readFile(t, b)) {
		t.Error("two builds of the same Spec differ")
	}
	if infoA.DiskGUID != infoB.DiskGUID || infoA.ESPGUID != infoB.ESPGUID {
		t.Error("two builds of the same Spec have different GUIDs")
	}

	spec.Seed = "config-hash-2"
	c, infoC := build(t, spec)
	if infoC.DiskGUID == infoA.DiskGUID || infoC.ESPGUID == infoA.ESPGUID || infoC.DiskGUID == infoC.ESPGUID {
		t.Errorf("GUIDs not distinct across seeds: %+v, %+v", infoA, infoC)
	}
	checkGPT(t, c, infoC, true)
	if bytes.Equal(readFile(t, a), readFile(t, c)) {
		t.Error("builds with different seeds are the same")
	}
	checkFAT(t, c, infoC, spec.Time)
}

func TestErrors(t *testing.T) {
	base := testSpec(t)
	for _, tc := range []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{"missing kernel", func(s *Spec) { s.Kernel = "/nonexistent/vmlinuz" }, "kernel file /nonexistent/vmlinuz: no such file"},
		{"missing initrd", func(s *Spec) { s.Initrd = "/nonexistent/initrd" }, "initrd file /nonexistent/initrd: no such file"},
		{"kernel is a directory", func(s *Spec) { s.Kernel = "/" }, "kernel file /: not a regular file"},
		{"no kernel", func(s *Spec) { s.Kernel = "" }, "no kernel file given"},
		{"ESP too small", func(s *Spec) { s.ESPSize = 63 << 20 }, "ESP size 66060288 bytes is too small"},
		{"disk too small", func(s *Spec) { s.Size = 129 << 20 }, "disk size 135266304 bytes is too small"},
		{"disk size not in sectors", func(s *Spec) { s.Size = 200<<20 + 1 }, "not a multiple of the 512-byte sector"},
		{"no loader", func(s *Spec) { s.UEFI, s.BIOS = false, false }, "neither UEFI nor BIOS"},
		{"unknown arch", func(s *Spec) { s.Arch = "riscv64" }, `architecture "riscv64" not supported`},
		{"arm64 BIOS", func(s *Spec) { s.Arch = "arm64" }, "only for amd64"},
		{"newline in cmdline", func(s *Spec) { s.Cmdline = "a\nb" }, "line break"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := base
			tc.change(&spec)
			dir := t.TempDir()
			path := filepath.Join(dir, "disk.img")
			_, err := Build(path, spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Build error = %v, want one containing %q", err, tc.want)
			}
			checkEmptyDir(t, dir)
		})
	}
}

func TestTooBigForESP(t *testing.T) {
	spec := testSpec(t)
	big := filepath.Join(t.TempDir(), "big")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: costs no disk space.
	if err := f.Truncate(70 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	spec.Initrd = big
	spec.ESPSize = 64 << 20
	_, err = Build(filepath.Join(t.TempDir(), "disk.img"), spec)
	if err == nil || !strings.Contains(err.Error(), "initrd file "+big) || !strings.Contains(err.Error(), "do not fit") {
		t.Fatalf("Build error = %v, want initrd does not fit", err)
	}
}

func TestArm64WithoutSystemdBoot(t *testing.T) {
	if _, err := host.Find(host.SystemdBootAA64, "for the test"); err == nil {
		t.Skip("systemd-bootaa64.efi is installed")
	}
	spec := testSpec(t)
	spec.Arch = "arm64"
	spec.BIOS = false
	dir := t.TempDir()
	_, err := Build(filepath.Join(dir, "disk.img"), spec)
	var missing *host.MissingError
	if !errors.As(err, &missing) {
		t.Fatalf("Build error = %v, want a *host.MissingError", err)
	}
	for _, want := range []string{"systemd-bootaa64.efi", "systemd-boot-efi:arm64"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	checkEmptyDir(t, dir)
}

// TestFailedBuildLeavesNothing makes the final rename fail (the target is
// a non-empty directory) after the image was written: no temporary file
// may be left behind.
func TestFailedBuildLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "disk.img")
	if err := os.MkdirAll(filepath.Join(target, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(target, testSpec(t)); err == nil {
		t.Fatal("Build onto a directory succeeded")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "disk.img" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestGUID(t *testing.T) {
	g := seedGUID("x", "y")
	if len(g) != 36 || g[14] != '8' || !strings.ContainsRune("89AB", rune(g[19])) || strings.ToUpper(g) != g {
		t.Errorf("seedGUID = %s, want an upper-case version 8 GUID", g)
	}
	if seedGUID("x", "y") != g || seedGUID("x", "z") == g || seedGUID("w", "y") == g {
		t.Error("seedGUID is not a function of seed and purpose only")
	}
}

func TestESP(t *testing.T) {
	img, info := build(t, testSpec(t))
	offset, size, err := ESP(img)
	if err != nil {
		t.Fatalf("ESP: %v", err)
	}
	if offset != info.ESPOffset || size != info.ESPSize {
		t.Errorf("ESP = %d, %d; want %d, %d", offset, size, info.ESPOffset, info.ESPSize)
	}

	dir := t.TempDir()
	zeros := filepath.Join(dir, "zeros.img")
	if err := os.WriteFile(zeros, make([]byte, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	mbrDisk := partitioned(t, filepath.Join(dir, "mbr.img"), &mbr.Table{
		LogicalSectorSize:  sectorSize,
		PhysicalSectorSize: sectorSize,
		Partitions:         []*mbr.Partition{{Type: mbr.Linux, Start: 2048, Size: 4096}},
	})
	noESP := partitioned(t, filepath.Join(dir, "noesp.img"), &gpt.Table{
		LogicalSectorSize:  sectorSize,
		PhysicalSectorSize: sectorSize,
		ProtectiveMBR:      true,
		Partitions:         []*gpt.Partition{{Index: 1, Start: 2048, End: 6143, Type: gpt.LinuxFilesystem}},
	})
	for _, tc := range []struct{ name, path, want string }{
		{"missing file", filepath.Join(dir, "nope.img"), "no such file"},
		{"no partition table", zeros, "no GPT"},
		{"MBR only", mbrDisk, "no GPT, only an MBR partition table"},
		{"GPT without ESP", noESP, "GPT has no EFI System Partition"},
	} {
		_, _, err := ESP(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
			t.Errorf("%s: ESP error %v, want one naming %s and saying %q", tc.name, err, tc.path, tc.want)
		}
	}
}

// partitioned writes a 4 MiB disk image with table on it.
func partitioned(t *testing.T, path string, table partition.Table) string {
	t.Helper()
	d, err := diskfs.Create(path, 4<<20, diskfs.SectorSizeDefault)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Partition(table); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkGPT reads the partition table back with go-diskfs.
func checkGPT(t *testing.T, img string, info *Info, bios bool) {
	t.Helper()
	d, err := diskfs.Open(img, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	pt, err := d.GetPartitionTable()
	if err != nil {
		t.Fatal(err)
	}
	table, ok := pt.(*gpt.Table)
	if !ok {
		t.Fatalf("partition table is %T, want GPT", pt)
	}
	if !table.ProtectiveMBR || table.GUID != info.DiskGUID {
		t.Errorf("GPT: protective MBR %v, disk GUID %s; want true, %s", table.ProtectiveMBR, table.GUID, info.DiskGUID)
	}
	var parts []*gpt.Partition
	for _, p := range table.Partitions {
		if p != nil && p.Type != gpt.Unused {
			parts = append(parts, p)
		}
	}
	if len(parts) != 1 {
		t.Fatalf("GPT has %d partitions, want 1", len(parts))
	}
	p := parts[0]
	if p.Type != "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" {
		t.Errorf("partition type %s, want the ESP's", p.Type)
	}
	if p.GetStart() != 1<<20 || p.GetSize() != info.ESPSize || p.GUID != info.ESPGUID {
		t.Errorf("ESP at %d, %d bytes, GUID %s; want 1 MiB, %d, %s", p.GetStart(), p.GetSize(), p.GUID, info.ESPSize, info.ESPGUID)
	}
	if got := p.Attributes&legacyBIOSBootable != 0; got != bios {
		t.Errorf("legacy BIOS bootable attribute %v, want %v", got, bios)
	}
}

// readESP returns every file on the ESP, read with go-diskfs.
func readESP(t *testing.T, img string) map[string][]byte {
	t.Helper()
	d, err := diskfs.Open(img, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fs, err := d.GetFilesystem(1)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	var walk func(dir string)
	walk = func(dir string) {
		entries, err := fs.ReadDir(fsPath(dir))
		if err != nil {
			t.Fatalf("ESP directory %s: %v", dir, err)
		}
		for _, e := range entries {
			p := path.Join(dir, e.Name())
			if e.IsDir() {
				walk(p)
				continue
			}
			f, err := fs.OpenFile(fsPath(p), os.O_RDONLY)
			if err != nil {
				t.Fatalf("ESP file %s: %v", p, err)
			}
			var buf bytes.Buffer
			if _, err := buf.ReadFrom(f); err != nil {
				t.Fatalf("ESP file %s: %v", p, err)
			}
			files[p] = buf.Bytes()
		}
	}
	walk("/")
	return files
}

// fsPath turns an absolute ESP path into the io/fs form go-diskfs wants:
// "." for the root and no leading slash.
func fsPath(p string) string {
	if p == "/" {
		return "."
	}
	return strings.TrimPrefix(p, "/")
}

// checkFAT runs fsck.fat -n on a copy of the ESP, found with ESP, and
// checks that every file has the Spec's time.
func checkFAT(t *testing.T, img string, info *Info, want time.Time) {
	t.Helper()
	offset, size, err := ESP(img)
	if err != nil {
		t.Fatal(err)
	}
	if offset != info.ESPOffset || size != info.ESPSize {
		t.Fatalf("ESP found at %d, %d bytes; Info says %d, %d bytes", offset, size, info.ESPOffset, info.ESPSize)
	}
	raw := readFile(t, img)
	esp := filepath.Join(t.TempDir(), "esp.img")
	if err := os.WriteFile(esp, raw[offset:offset+size], 0o644); err != nil {
		t.Fatal(err)
	}
	fsck := hostFile(t, host.FsckFAT)
	out, err := exec.Command(fsck, "-n", "-V", esp).CombinedOutput()
	if err != nil {
		t.Errorf("%s -n -V: %v\n%s", fsck, err, out)
	}

	d, err := diskfs.Open(img, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fs, err := d.GetFilesystem(1)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range info.Files {
		st, err := fs.Stat(fsPath(p))
		if err != nil {
			t.Errorf("ESP %s: %v", p, err)
			continue
		}
		if !st.ModTime().Equal(want.Truncate(2 * time.Second)) {
			t.Errorf("ESP %s has time %v, want %v", p, st.ModTime(), want)
		}
	}
}

func checkEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("failed Build left %s", e.Name())
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hostFile finds a host file the test needs; its error names the Debian
// package to install.
func hostFile(t *testing.T, f host.File) string {
	t.Helper()
	path, err := host.Find(f, "for the images/disk tests")
	if err != nil {
		t.Fatal(err)
	}
	return path
}
