package manifest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func withInputs(t *testing.T) (*Manifest, string) {
	t.Helper()
	m, dir := sample(t)
	m.Inputs = &Inputs{
		Go: "go1.26.8", RlbuildGo: "go1.26.8", InitSHA256: "aaaa",
		GoSettings: []Setting{{"GOAMD64", "v1"}, {"-trimpath", "true"}},
		Modules: []GoModule{
			{Path: "golang.org/x/sys", Version: "v0.50.0", Sum: "h1:x=", For: "init"},
			{Path: "github.com/gokrazy/kernel.amd64", Version: "v0.0.0-1", For: "linux"},
		},
		Packages: []DebPackage{{Name: "syslinux-common", Version: "3:6.04-3", For: "disk: BIOS loader",
			Files: []HostFile{{Path: "/usr/lib/syslinux/mbr/gptmbr.bin", SHA256: "1111"}}}},
	}
	return m, dir
}

// copyOf round-trips m through JSON, as a second builder's manifest.
func copyOf(t *testing.T, m *Manifest) *Manifest {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var c Manifest
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

func report(t *testing.T, c *Comparison) string {
	t.Helper()
	var b strings.Builder
	if err := c.Write(&b, "one", "two"); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestCompareSame(t *testing.T) {
	a, _ := withInputs(t)
	c := Compare(a, copyOf(t, a))
	if !c.Same() {
		t.Fatalf("a manifest differs from its copy:\n%s", report(t, c))
	}
	if r := report(t, c); !strings.Contains(r, "same:") {
		t.Errorf("report:\n%s", r)
	}
}

// Each input that differs is named with both values, and so is each
// artifact; the verdict blames the inputs.
func TestCompareExplains(t *testing.T) {
	a, _ := withInputs(t)
	b := copyOf(t, a)
	b.Inputs.Go = "go1.26.7"
	b.Inputs.GoSettings[0].Value = "v3"
	b.Inputs.Modules[0].Version = "v0.49.0"
	b.Inputs.Packages[0].Version = "3:6.03-1"
	b.Inputs.Packages[0].Files[0].SHA256 = "2222"
	b.Inputs.InitSHA256 = "bbbb"
	b.Artifacts[1].SHA256 = "ffff"
	b.Artifacts = b.Artifacts[:2] // no pxe/boot.ipxe
	c := Compare(a, b)
	r := report(t, c)
	for _, want := range []string{
		"go (toolchain of /init)\n    A: go1.26.8\n    B: go1.26.7",
		"go setting GOAMD64\n    A: v1\n    B: v3",
		"module golang.org/x/sys (init)\n    A: v0.50.0 h1:x=\n    B: v0.49.0 h1:x=",
		"package syslinux-common (disk: BIOS loader)\n    A: 3:6.04-3\n    B: 3:6.03-1",
		"host file /usr/lib/syslinux/mbr/gptmbr.bin\n    A: sha256 1111\n    B: sha256 2222",
		"/init (the domain kernel binary)\n    A: sha256 aaaa\n    B: sha256 bbbb",
		"initrd.img\n    A: sha256 " + a.Artifacts[1].SHA256,
		"pxe/boot.ipxe\n    A: sha256 " + a.Artifacts[2].SHA256 + " (7 bytes)\n    B: (none)",
		"differ in 5 input(s)",
	} {
		if !strings.Contains(r, want) {
			t.Errorf("report lacks %q:\n%s", want, r)
		}
	}
	if strings.Contains(r, "vmlinuz") {
		t.Errorf("report names the equal vmlinuz:\n%s", r)
	}
}

// Equal inputs with different artifacts point at the sources or the
// environment.
func TestCompareUnexplained(t *testing.T) {
	a, _ := withInputs(t)
	b := copyOf(t, a)
	b.Artifacts[1].SHA256 = "ffff"
	if r := report(t, Compare(a, b)); !strings.Contains(r, "reproducibility bug") {
		t.Errorf("report:\n%s", r)
	}
	b.Inputs.InitSHA256 = "bbbb"
	if r := report(t, Compare(a, b)); !strings.Contains(r, "the source trees differ") {
		t.Errorf("report:\n%s", r)
	}
}

// A manifest of an older rlbuild (no inputs) still loads and compares.
func TestCompareOldManifest(t *testing.T) {
	a, dir := withInputs(t)
	old, _ := sample(t)
	if err := old.Write(dir); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, FileName))
	if strings.Contains(string(raw), "inputs") {
		t.Fatalf("a manifest without inputs writes them:\n%s", raw)
	}
	loaded, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := report(t, Compare(loaded, a))
	if !strings.Contains(r, "A's manifest records no inputs") || !strings.Contains(r, "same:") {
		t.Errorf("report:\n%s", r)
	}
}
