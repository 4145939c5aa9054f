package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/u-root/mkuimage/cpio"

	"github.com/rlgo/redleaf/images/manifest"
)

// initrdFile returns the bytes of the file name (no leading slash) in a
// build's zstd initramfs, or nil.
func initrdFile(t *testing.T, m *manifest.Manifest, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(m.Path(m.Initrd))
	if err != nil {
		t.Fatal(err)
	}
	d, err := zstd.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	raw, err := io.ReadAll(d)
	if err != nil {
		t.Fatal(err)
	}
	rr := cpio.Newc.Reader(bytes.NewReader(raw))
	for {
		rec, err := rr.ReadRecord()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Name == name {
			b, err := io.ReadAll(io.NewSectionReader(rec.ReaderAt, 0, int64(rec.FileSize)))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

// configs/qemu.yaml builds an Rv6 file system (rv6.fs) into the
// initramfs: the manifest records it, the host tools find it consistent
// and holding the config's files, and the booted kernel loads it as the
// RAM disk.
func TestRV6FSInInitramfs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds images and boots QEMU")
	}
	dir := image(t, "configs/qemu.yaml")
	m, err := manifest.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.RV6FS == nil || m.RV6FS.InitramfsPath != "/rv6/root.img" || m.RV6FS.Size != 64<<20 {
		t.Fatalf("manifest rv6fs: %+v", m.RV6FS)
	}
	img := initrdFile(t, m, "rv6/root.img")
	if img == nil {
		t.Fatal("no rv6/root.img in the initramfs")
	}
	if s := sha256.Sum256(img); hex.EncodeToString(s[:]) != m.RV6FS.SHA256 {
		t.Error("the initramfs's rv6/root.img is not the one the manifest records")
	}
	file := filepath.Join(t.TempDir(), "root.img")
	os.WriteFile(file, img, 0o644)
	if r := rl(t, nil, "fsck", file); r.code != 0 {
		t.Errorf("fsck: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for src, dst := range map[string]string{"configs/rv6root/etc/motd": "/etc/motd", "configs/rv6root/home/demo.sh": "/home/demo.sh", "configs/rv6root/www/index.html": "/www/index.html"} {
		want, _ := os.ReadFile(filepath.Join(root, src))
		if r := rl(t, nil, "fscat", file, dst); r.code != 0 || r.stdout != string(want) {
			t.Errorf("fscat %s: exit %d %q %s", dst, r.code, r.stdout, r.stderr)
		}
	}

	transcript := filepath.Join(t.TempDir(), "console.log")
	r := rl(t, nil, "boot", "--artifacts", dir, "--mode", "kernel", "--timeout", "3m", "--quiet", "--transcript", transcript,
		"--step", `expect@4m=ramdisk: 64 MiB from /rv6/root\.img`,
		"--step", `expect=\$ `,
		"--step", "send=poweroff")
	if r.code != 0 {
		log, _ := os.ReadFile(transcript)
		t.Fatalf("boot exit %d: %s\nconsole:\n%s", r.code, r.stderr, tail(string(log), 3000))
	}
}

// rv6.fs.place: both writes rv6fs.img beside the artifacts too, recorded
// with its digest.
func TestRV6FSBeside(t *testing.T) {
	if testing.Short() {
		t.Skip("builds images")
	}
	out := filepath.Join(t.TempDir(), "both")
	r := rl(t, []string{"RLBUILD_RV6_FS_PLACE=both", "RLBUILD_RV6_FS_SIZE_MIB=8", "RLBUILD_DISK_ENABLED=false", "RLBUILD_PXE_ENABLED=false"},
		"image", "--config", "configs/qemu.yaml", "--out", out)
	if r.code != 0 {
		t.Fatalf("image: %s", r.stderr)
	}
	m, err := manifest.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Verify(); err != nil {
		t.Fatal(err)
	}
	if m.RV6FS == nil || m.RV6FS.Path != "rv6fs.img" || m.RV6FS.InitramfsPath == "" || m.RV6FS.Size != 8<<20 {
		t.Fatalf("manifest rv6fs: %+v", m.RV6FS)
	}
	found := false
	for _, a := range m.Artifacts {
		if a.Path == "rv6fs.img" {
			found = a.SHA256 == m.RV6FS.SHA256
		}
	}
	if !found {
		t.Error("rv6fs.img is not an artifact with the recorded digest")
	}
	if r := rl(t, nil, "fsls", "-R", m.Path("rv6fs.img"), "/"); r.code != 0 || !strings.Contains(r.stdout, "/home/README") {
		t.Errorf("fsls: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A missing source is named in a config error before any work.
	r = rl(t, []string{"RLBUILD_RV6_FS_FILES=nope.txt:/nope"}, "image", "--config", "configs/qemu.yaml", "--out", filepath.Join(t.TempDir(), "x"))
	if r.code == 0 || !strings.Contains(r.stderr, "rv6.fs.files[0].src") || !strings.Contains(r.stderr, "nope.txt does not exist") {
		t.Errorf("missing source: exit %d %s", r.code, r.stderr)
	}
}
