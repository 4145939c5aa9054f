package e2e

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/images/disk"
	"github.com/rlgo/redleaf/images/manifest"
)

// Two builds of the same config give the same bytes for every artifact,
// with and without SOURCE_DATE_EPOCH, in different output directories.
func TestReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds images")
	}
	for _, env := range [][]string{nil, {"SOURCE_DATE_EPOCH=1700000000"}} {
		var ms []*manifest.Manifest
		for i := 0; i < 2; i++ {
			out := filepath.Join(t.TempDir(), "build")
			r := rl(t, env, "image", "--config", "configs/qemu.yaml", "--out", out)
			if r.code != 0 {
				t.Fatalf("build %d: %s", i, r.stderr)
			}
			m, err := manifest.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Verify(); err != nil {
				t.Fatal(err)
			}
			ms = append(ms, m)
		}
		a, b := ms[0], ms[1]
		if len(a.Artifacts) != len(b.Artifacts) || len(a.Artifacts) < 6 {
			t.Fatalf("artifact lists differ or are short: %v vs %v", a.Artifacts, b.Artifacts)
		}
		for i := range a.Artifacts {
			x, y := a.Artifacts[i], b.Artifacts[i]
			if x != y {
				t.Errorf("%v: artifact %s differs: %+v vs %+v", env, x.Path, x, y)
				continue
			}
			bx, _ := os.ReadFile(a.Path(x.Path))
			by, _ := os.ReadFile(b.Path(y.Path))
			if !bytes.Equal(bx, by) {
				t.Errorf("%v: %s bytes differ", env, x.Path)
			}
		}
		if env != nil && !a.BuildTime.Equal(b.BuildTime) {
			t.Errorf("SOURCE_DATE_EPOCH ignored: %v vs %v", a.BuildTime, b.BuildTime)
		}
	}
}

// The ESP of the built disk passes fsck.fat, an outside opinion.
func TestESPFsck(t *testing.T) {
	if testing.Short() {
		t.Skip("builds images")
	}
	fsck, err := exec.LookPath("fsck.fat")
	if err != nil {
		t.Fatal("fsck.fat not installed: apt-get install dosfstools")
	}
	dir := image(t, "configs/qemu.yaml")
	m, err := manifest.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	start, size, err := disk.ESP(m.Path(m.Disk))
	if err != nil {
		t.Fatal(err)
	}
	img, err := os.Open(m.Path(m.Disk))
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	esp := filepath.Join(t.TempDir(), "esp.img")
	f, err := os.Create(esp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, io.NewSectionReader(img, start, size)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(fsck, "-n", esp).CombinedOutput()
	if err != nil {
		t.Fatalf("fsck.fat -n: %v\n%s", err, out)
	}
	if size < 64<<20 {
		t.Errorf("ESP is %d bytes, want at least 64 MiB", size)
	}
}

// Bad input gets one clear error naming the input and a fix, never a
// stack trace.
func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("arch: amd64\nkernal:\n  cmdline: x\n"), 0o644)
	// A PATH with go but without syslinux.
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	os.Symlink(gobin, filepath.Join(bin, "go"))

	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"missing config", nil, []string{"image", "--config", "configs/nope.yaml"}, []string{"configs/nope.yaml", "config file does not exist", "configs/"}},
		{"unknown key", nil, []string{"image", "--config", bad}, []string{"bad.yaml:2", "kernal: unknown key", `"kernel"`}},
		{"bad env", []string{"RLBUILD_ARCH=sparc"}, []string{"image"}, []string{"environment variable RLBUILD_ARCH", "unknown arch"}},
		{"bad flag value", nil, []string{"image", "--arch", "mips"}, []string{"flag --arch", "unknown arch \"mips\""}},
		{"bad epoch", []string{"SOURCE_DATE_EPOCH=yesterday"}, []string{"image", "--out", filepath.Join(dir, "o1")}, []string{"SOURCE_DATE_EPOCH", "not a Unix time"}},
		{"missing host tool", []string{"PATH=" + bin}, []string{"image", "--out", filepath.Join(dir, "o2")}, []string{"syslinux", "apt-get install syslinux"}},
		{"no manifest", nil, []string{"boot", "--artifacts", dir, "--step", "expect=x"}, []string{"no manifest.json in " + dir}},
		{"bad mode", nil, []string{"boot", "--mode", "floppy"}, []string{"qemu.mode", "unknown boot mode"}},
		{"bad step", nil, []string{"boot", "--artifacts", dir, "--step", "wait for it"}, []string{"--step", "no '='"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rl(t, tc.env, tc.args...)
			if r.code == 0 {
				t.Fatalf("exit 0, want failure; stderr:\n%s", r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic:") {
				t.Errorf("stack trace in:\n%s", r.stderr)
			}
		})
	}
}
