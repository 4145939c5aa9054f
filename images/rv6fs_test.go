package images

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/config"
	"github.com/rlgo/redleaf/images/debkernel"
	"github.com/rlgo/redleaf/rv6/fs"
	"github.com/rlgo/redleaf/rv6/fs/fsck"
	"github.com/rlgo/redleaf/rv6/fs/hostdev"
)

// rv6Config loads a config with an rv6.fs section over a small tree of
// host files, as a user would write it.
func rv6Config(t *testing.T) *config.Config {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+config.ModulePath+"\n\ngo 1.26\n"), 0o644)
	for p, data := range map[string]string{
		"root/motd":         "welcome\n",
		"root/demo.sh":      "echo hello\necho done\n",
		"root/docs/a.txt":   "a\n",
		"root/docs/sub/big": strings.Repeat("0123456789abcdef", 40_000), // 640 KB: indirect blocks
	} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte(data), 0o644)
	}
	file := filepath.Join(dir, "fs.yaml")
	os.WriteFile(file, []byte(`rv6:
  fs:
    enabled: true
    size_mib: 8
    place: both
    files:
      - {src: root/motd, dst: /etc/motd}
      - {src: root/demo.sh, dst: /home/demo.sh}
      - {src: root/docs, dst: /usr/share/docs}
`), 0o644)
	c, err := config.Load(config.Options{File: file, WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sum(t *testing.T, p string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// The build's Rv6 file system is consistent (fsck), holds the config's
// files (read back through rv6/fs), and is the same bytes for the same
// inputs and time.
func TestRV6FS(t *testing.T) {
	c := rv6Config(t)
	out := t.TempDir()
	img := filepath.Join(out, RV6FSFile)
	if err := buildRV6FS(c, &plan{}, img); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(img); err != nil || st.Size() != 8<<20 {
		t.Fatalf("image: %v, %v", st, err)
	}

	dev, err := hostdev.Open(img, hostdev.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	r, err := fsck.Check(dev)
	if err != nil || !r.OK() {
		t.Fatalf("fsck: %v %+v", err, r)
	}
	f, err := fs.Mount(dev, fs.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Unmount()
	for p, want := range map[string]string{
		"/etc/motd":               "welcome\n",
		"/home/demo.sh":           "echo hello\necho done\n",
		"/usr/share/docs/a.txt":   "a\n",
		"/usr/share/docs/sub/big": strings.Repeat("0123456789abcdef", 40_000),
	} {
		fl, err := f.Open(p, fs.O_RDONLY)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		got, err := io.ReadAll(io.NewSectionReader(fl, 0, 1<<30))
		fl.Close()
		if err != nil || string(got) != want {
			t.Errorf("%s: %d bytes, %v; want %d bytes", p, len(got), err, len(want))
		}
	}

	// Reproducible: another build of the same inputs, elsewhere.
	again := filepath.Join(t.TempDir(), "again.img")
	if err := buildRV6FS(c, &plan{}, again); err != nil {
		t.Fatal(err)
	}
	if sum(t, img) != sum(t, again) {
		t.Error("two builds of the same inputs differ")
	}
	// SOURCE_DATE_EPOCH (the plan's file time) is the time in the image.
	p := &plan{fileTime: time.Unix(1700000000, 0)}
	a, b := filepath.Join(out, "a.img"), filepath.Join(out, "b.img")
	if err := buildRV6FS(c, p, a); err != nil {
		t.Fatal(err)
	}
	if err := buildRV6FS(c, p, b); err != nil {
		t.Fatal(err)
	}
	if sum(t, a) != sum(t, b) || sum(t, a) == sum(t, img) {
		t.Error("the file time does not give its own reproducible image")
	}
}

func TestRV6FSFull(t *testing.T) {
	c := rv6Config(t)
	c.RV6.FS.SizeMiB = 2
	big := filepath.Join(t.TempDir(), "big")
	os.WriteFile(big, bytes.Repeat([]byte{1}, 3<<20), 0o644)
	c.RV6.FS.Files = append(c.RV6.FS.Files, config.FSFile{Src: big, Dst: "/big"})
	err := buildRV6FS(c, &plan{}, filepath.Join(t.TempDir(), "x.img"))
	if err == nil || !strings.Contains(err.Error(), "rv6.fs") || !strings.Contains(err.Error(), "raise rv6.fs.size_mib") {
		t.Errorf("error %v", err)
	}
}

// The modules of a Debian kernel land under /lib/modules/<release>/ with
// modules.dep, and the load list names them in load order.
func TestModuleFiles(t *testing.T) {
	work := t.TempDir()
	k := &debkernel.Kernel{Name: "linux-image-x", Version: "1", Release: "6.1.0-9-amd64", ModulesDep: "kernel/b.ko: kernel/a.ko\nkernel/a.ko:\n", Modules: []debkernel.Module{
		{Name: "a", Path: "kernel/a.ko", Host: "/cache/a.ko"},
		{Name: "b", Path: "kernel/b.ko", Host: "/cache/b.ko", Requested: true},
	}}
	files, err := moduleFiles(k, work)
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, f := range files {
		targets = append(targets, f.Target)
	}
	want := "lib/modules/6.1.0-9-amd64/kernel/a.ko lib/modules/6.1.0-9-amd64/kernel/b.ko etc/rl/modules.load lib/modules/6.1.0-9-amd64/modules.dep"
	if strings.Join(targets, " ") != want {
		t.Errorf("targets %v, want %s", targets, want)
	}
	list, _ := os.ReadFile(files[2].Host)
	if !strings.HasSuffix(string(list), "\n/lib/modules/6.1.0-9-amd64/kernel/a.ko\n/lib/modules/6.1.0-9-amd64/kernel/b.ko\n") {
		t.Errorf("load list:\n%s", list)
	}
	if files, err := moduleFiles(&debkernel.Kernel{}, work); err != nil || files != nil {
		t.Errorf("no modules: %v, %v", files, err)
	}
}
