package kernelsrc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const source = "../.." // the repository root, whose go.mod pins the kernels

func TestDefaultModules(t *testing.T) {
	for _, arch := range []string{"amd64", "arm64"} {
		k, err := FromModule(source, "github.com/gokrazy/kernel."+arch, arch)
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		if k.Version == "unknown" || !strings.HasPrefix(k.Source, "module github.com/gokrazy/kernel."+arch+"@v0.0.0-") {
			t.Errorf("%s: %+v", arch, k)
		}
	}
}

func TestWrongArch(t *testing.T) {
	_, err := FromModule(source, "github.com/gokrazy/kernel.arm64", "amd64")
	if err == nil || !strings.Contains(err.Error(), "not an x86 bzImage") {
		t.Errorf("arm64 kernel for amd64: %v", err)
	}
	_, err = FromModule(source, "github.com/gokrazy/kernel.amd64", "arm64")
	if err == nil || !strings.Contains(err.Error(), "not an uncompressed arm64 Image") {
		t.Errorf("amd64 kernel for arm64: %v", err)
	}
}

func TestModuleErrors(t *testing.T) {
	_, err := FromModule(source, "example.com/no/such/kernel", "amd64")
	if err == nil || !strings.Contains(err.Error(), "kernel.module: module example.com/no/such/kernel is not required") {
		t.Errorf("unpinned module: %v", err)
	}
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	_, err := FromFile(filepath.Join(dir, "nope"), "amd64")
	if err == nil || !strings.Contains(err.Error(), "kernel.path: kernel image") {
		t.Errorf("missing file: %v", err)
	}
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, make([]byte, 4096), 0o644)
	if _, err := FromFile(junk, "amd64"); err == nil {
		t.Error("junk accepted as bzImage")
	}
	// A minimal bzImage header: HdrS magic and a version string pointer.
	img := make([]byte, 0x1000)
	copy(img[0x202:], "HdrS")
	img[0x20e] = 0x00
	img[0x20f] = 0x02 // version at 0x200+0x200
	copy(img[0x400:], "6.1.0-test (x@y) #1\x00")
	bz := filepath.Join(dir, "bzImage")
	os.WriteFile(bz, img, 0o644)
	k, err := FromFile(bz, "amd64")
	if err != nil || k.Version != "6.1.0-test" {
		t.Errorf("bzImage: %+v %v", k, err)
	}
}
