package images

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVetDomainsTarget checks that the image build vets the kernel it
// links for the image's architecture: a domain file for arm64 only, with
// unsafe, linkname, a go statement and os, is refused in an arm64 image
// and not in an amd64 one.
func TestVetDomainsTarget(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"go.mod":               "module github.com/rlgo/redleaf\n\ngo 1.26\n",
		"cmd/rlkernel/main.go": "package main\n\nimport _ \"github.com/rlgo/redleaf/drivers/d\"\n\nfunc main() {}\n",
		"drivers/d/d.go":       "// Package d is linked but not marked as a domain.\npackage d\n",
		"drivers/d/x_arm64.go": "package d\n\nimport (\n\t\"os\"\n\t_ \"unsafe\"\n)\n\n//go:linkname now runtime.nanotime\nfunc now() int64\n\nfunc init() { go os.Exit(1) }\n",
	} {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := vetDomains(dir, "amd64"); err != nil {
		t.Errorf("amd64 image: %v", err)
	}
	err := vetDomains(dir, "arm64")
	if err == nil {
		t.Fatal("arm64 image: not refused")
	}
	for _, want := range []string{"refusing to build", "x_arm64.go:4:2: import", "x_arm64.go:5:4: unsafe", "x_arm64.go:8:1: directive", "x_arm64.go:11:15: go"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("arm64 image: error lacks %q:\n%v", want, err)
		}
	}
}
