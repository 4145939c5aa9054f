package profile

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite configs/lab/lab.yaml from Example")

// shippedPath is the example lab file in the repository. It lives in a
// directory of its own: configs/*.yaml are image configs.
const shippedPath = "../../configs/lab/lab.yaml"

// shippedLab is what configs/lab/lab.yaml must hold: Example, with the
// paths of a file two levels below the repository root.
func shippedLab() string {
	s := strings.Replace(Example, "--config lab.yaml\n", "--config configs/lab/lab.yaml\n", 1)
	s = strings.Replace(s, "artifacts: ../out/qemu  #", "artifacts: ../../out/qemu  #", 1)
	return "# The example lab file: netboot/profile's Example, written by\n" +
		"# `go test ./netboot/profile -run TestShippedLab -update`.\n" + s
}

// TestShippedLab checks that configs/lab/lab.yaml is Example (go test
// -update rewrites it) and that it loads, beside a build in out/qemu, to
// the same configuration as Example.
func TestShippedLab(t *testing.T) {
	want := shippedLab()
	if *update {
		if err := os.WriteFile(shippedPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(shippedPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s is not in sync with profile.Example: run go test ./netboot/profile -run TestShippedLab -update", shippedPath)
	}
	if !strings.Contains(want, "artifacts: ../../out/qemu") {
		t.Fatal("the example's artifacts path changed: fix shippedLab")
	}

	// The shipped file and Example, each where it belongs in a checkout.
	root := t.TempDir()
	artifacts(t, filepath.Join(root, "out", "qemu"), "qemu")
	shipped := filepath.Join(root, "configs", "lab", "lab.yaml")
	example := filepath.Join(root, "configs", "lab.yaml")
	os.MkdirAll(filepath.Dir(shipped), 0o755)
	os.WriteFile(shipped, got, 0o644)
	os.WriteFile(example, []byte(Example), 0o644)
	fs, err := Load(shipped)
	if err != nil {
		t.Fatal(err)
	}
	fe, err := Load(example)
	if err != nil {
		t.Fatal(err)
	}
	if p := fs.Profiles["qemu"]; p == nil || p.Manifest == nil || p.Manifest.Name != "qemu" {
		t.Fatalf("profile qemu: %+v", p)
	}
	if fs.Server.StateDir != filepath.Join(root, "configs", "lab", "netboot-state") {
		t.Errorf("state_dir %s", fs.Server.StateDir)
	}
	// Only the file's own path and what is relative to it differ.
	fs.Path, fe.Path = "", ""
	fs.Server.StateDir, fe.Server.StateDir = "", ""
	fs.Server.OperatorTokenFile, fe.Server.OperatorTokenFile = "", ""
	if !reflect.DeepEqual(fs, fe) {
		t.Errorf("configs/lab/lab.yaml loads to\n%+v\nExample to\n%+v", fs, fe)
	}
}
