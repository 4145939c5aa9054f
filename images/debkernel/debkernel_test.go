package debkernel

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestAr(t *testing.T) {
	var b bytes.Buffer
	writeAr(&b, [2]string{"debian-binary", "2.0\n"}, [2]string{"odd", "abc"}, [2]string{"last", "xy"})
	var got []string
	err := readAr(&b, func(m arMember, r io.Reader) error {
		data, err := io.ReadAll(r)
		got = append(got, m.Name+"="+string(data))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"debian-binary=2.0\n", "odd=abc", "last=xy"}; !reflect.DeepEqual(got, want) {
		t.Errorf("members %q, want %q (odd sizes are padded)", got, want)
	}
	if err := readAr(strings.NewReader("PK\x03\x04 not ar"), nil); err == nil || !strings.Contains(err.Error(), "not an ar archive") {
		t.Errorf("zip read as ar: %v", err)
	}
	if err := readAr(strings.NewReader(arMagic+"short"), func(arMember, io.Reader) error { return nil }); err == nil {
		t.Error("a truncated header was accepted")
	}
}

func TestModinfo(t *testing.T) {
	mi, err := readModinfo(fakeModule(t, "vfio_pci", "vfio-pci-core,vfio,irqbypass"))
	if err != nil {
		t.Fatal(err)
	}
	if mi.Name != "vfio_pci" || !reflect.DeepEqual(mi.Depends, []string{"vfio_pci_core", "vfio", "irqbypass"}) {
		t.Errorf("modinfo %+v", mi)
	}
	if mi, err := readModinfo(fakeModule(t, "x", "")); err != nil || len(mi.Depends) != 0 {
		t.Errorf("no depends: %+v %v", mi, err)
	}
	if _, err := readModinfo([]byte("not elf")); err == nil {
		t.Error("not an ELF file was accepted")
	}
}

func TestModulesDep(t *testing.T) {
	g, err := parseModulesDep(`kernel/drivers/vfio/pci/vfio-pci.ko: kernel/drivers/vfio/pci/vfio-pci-core.ko kernel/virt/lib/irqbypass.ko kernel/drivers/vfio/vfio.ko
kernel/drivers/vfio/pci/vfio-pci-core.ko: kernel/virt/lib/irqbypass.ko kernel/drivers/vfio/vfio.ko
kernel/drivers/vfio/vfio.ko:
kernel/virt/lib/irqbypass.ko.xz:
kernel/drivers/vfio/vfio_iommu_type1.ko: kernel/drivers/vfio/vfio.ko
`)
	if err != nil {
		t.Fatal(err)
	}
	order, missing := g.resolve([]string{"vfio-pci", "vfio_iommu_type1", "nope"})
	want := []string{"vfio_pci_core", "irqbypass", "vfio", "vfio_pci", "vfio_iommu_type1"}
	if !reflect.DeepEqual(missing, []string{"nope"}) {
		t.Errorf("missing %v", missing)
	}
	if len(order) != len(want) {
		t.Fatalf("order %v, want the modules of %v", order, want)
	}
	pos := map[string]int{}
	for i, n := range order {
		pos[n] = i
	}
	for n, e := range g {
		for _, d := range e.Depends {
			if _, in := pos[n]; in && pos[d] > pos[n] {
				t.Errorf("%s loads before its dependency %s: %v", n, d, order)
			}
		}
	}
	if g["irqbypass"].Path != "kernel/virt/lib/irqbypass.ko.xz" {
		t.Errorf("irqbypass: %+v", g["irqbypass"])
	}
	for _, bad := range []string{"no colon here\n", "kernel/x.txt: \n", "kernel/a.ko: kernel/b.txt\n"} {
		if _, err := parseModulesDep(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
	// Written back in depmod's format, for the packed modules.
	dep := g.formatModulesDep([]string{"vfio", "vfio_iommu_type1"})
	if dep != "kernel/drivers/vfio/vfio.ko:\nkernel/drivers/vfio/vfio_iommu_type1.ko: kernel/drivers/vfio/vfio.ko\n" {
		t.Errorf("modules.dep:\n%s", dep)
	}
}

func TestControl(t *testing.T) {
	f := parseControl("Package: linux-image-amd64\nVersion: 6.1.119-1\nDepends: linux-image-6.1.0-28-amd64 (= 6.1.119-1)\nDescription: Linux\n more text\n")
	if f["Package"] != "linux-image-amd64" || f["Description"] != "Linux\nmore text" {
		t.Errorf("fields %q", f)
	}
	for in, want := range map[string]string{
		f["Depends"]: "linux-image-6.1.0-28-amd64",
		"kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool": "",
		"foo | linux-image-6.12.9-amd64-unsigned, bar":                                         "linux-image-6.12.9-amd64-unsigned",
	} {
		if got := kernelDependency(in); got != want {
			t.Errorf("kernelDependency(%q) = %q, want %q", in, got, want)
		}
	}
}

const kernelControl = "Package: linux-image-6.1.0-99-amd64\nVersion: 6.1.999-1\nArchitecture: amd64\nDepends: kmod\n"

// Resolve on a generated package, for each data.tar compression: the
// kernel, the modules in dependency order, builtin modules noted,
// modules.dep, the cache.
func TestResolve(t *testing.T) {
	for _, ext := range []string{"", ".gz", ".zst", ".xz"} {
		t.Run("data.tar"+ext, func(t *testing.T) {
			dir := t.TempDir()
			deb := fakeDeb(t, dir, ext, kernelControl, kernelFiles(t, nil))
			cache := filepath.Join(dir, "cache")
			o := Options{Package: deb, Arch: "amd64", Modules: []string{"mod-a", "mod_d", "8250", "mod-a"}, CacheDir: cache}
			k, err := Resolve(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if k.Release != release || k.Name != "linux-image-6.1.0-99-amd64" || k.Version != "6.1.999-1" || len(k.SHA256) != 64 {
				t.Errorf("kernel %+v", k)
			}
			if b, err := os.ReadFile(k.Vmlinuz); err != nil || !bytes.Equal(b, fakeBzImage()) {
				t.Errorf("vmlinuz: %v", err)
			}
			var names []string
			for _, m := range k.Modules {
				names = append(names, m.Name)
				b, err := os.ReadFile(m.Host)
				if err != nil {
					t.Fatal(err)
				}
				if mi, err := readModinfo(b); err != nil || mi.Name != m.Name {
					t.Errorf("%s: extracted file is %+v, %v", m.Path, mi, err)
				}
				if m.Requested != (m.Name == "mod_a" || m.Name == "mod_d") {
					t.Errorf("%s: requested %v", m.Name, m.Requested)
				}
			}
			if want := []string{"mod_c", "mod_b", "mod_a", "mod_d"}; !reflect.DeepEqual(names, want) {
				t.Errorf("load order %v, want %v", names, want)
			}
			if !reflect.DeepEqual(k.Builtin, []string{"8250"}) {
				t.Errorf("builtin %v", k.Builtin)
			}
			if !strings.Contains(k.ModulesDep, "kernel/drivers/a/mod-a.ko: kernel/drivers/b/mod_b.ko kernel/lib/mod-c.ko\n") {
				t.Errorf("modules.dep:\n%s", k.ModulesDep)
			}
			// Cached: the second run needs nothing but the .deb's digest.
			k2, err := Resolve(context.Background(), o)
			if err != nil || !reflect.DeepEqual(k, k2) {
				t.Errorf("second run: %+v, %v", k2, err)
			}
		})
	}
}

// A compressed module is read for its .modinfo once extracted, and packed
// decompressed for a kernel without CONFIG_MODULE_DECOMPRESS.
func TestResolveCompressedModule(t *testing.T) {
	if _, err := exec.LookPath("xz"); err != nil {
		t.Skip("no xz")
	}
	dir := t.TempDir()
	e := compressAs(t, ".xz", fakeModule(t, "mod_e", "mod-c"))
	deb := fakeDeb(t, dir, ".gz", kernelControl, kernelFiles(t, e))
	k, err := Resolve(context.Background(), Options{Package: deb, Modules: []string{"mod-e"}, CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Modules) != 2 || k.Modules[0].Name != "mod_c" || k.Modules[1].Name != "mod_e" {
		t.Fatalf("modules %+v", k.Modules)
	}
	if p := k.Modules[1].Path; p != "kernel/drivers/e/mod-e.ko" {
		t.Errorf("packed as %s, want it decompressed", p)
	}
	if b, _ := os.ReadFile(k.Modules[1].Host); !bytes.HasPrefix(b, []byte("\x7fELF")) {
		t.Error("the packed module is not decompressed")
	}
}

func TestResolveErrors(t *testing.T) {
	dir := t.TempDir()
	deb := fakeDeb(t, dir, ".gz", kernelControl, kernelFiles(t, nil))
	meta := fakeDeb(t, t.TempDir(), ".gz", "Package: linux-image-amd64\nVersion: 6.1.999-1\nDepends: linux-image-6.1.0-99-amd64 (= 6.1.999-1)\n", map[string][]byte{"usr/share/doc/linux-image-amd64/copyright": []byte("x")})
	notDeb := filepath.Join(dir, "x.deb")
	os.WriteFile(notDeb, []byte("hello"), 0o644)
	for _, tc := range []struct {
		name string
		o    Options
		key  string
		want []string
	}{
		{"unknown module", Options{Package: deb, Modules: []string{"mod-aa"}}, "kernel.modules", []string{"module mod-aa is neither a module of linux-image-6.1.0-99-amd64", `did you mean "mod_a"?`}},
		{"metapackage file", Options{Package: meta}, "kernel.package", []string{"is the metapackage linux-image-amd64", "set kernel.package: linux-image-6.1.0-99-amd64"}},
		{"not a deb", Options{Package: notDeb}, "kernel.package", []string{"x.deb", "not an ar archive"}},
		{"missing file", Options{Package: filepath.Join(dir, "none.deb")}, "kernel.package", []string{"none.deb"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.CacheDir = filepath.Join(t.TempDir(), "cache")
			_, err := Resolve(context.Background(), tc.o)
			var e *Error
			if !errors.As(err, &e) || e.Key != tc.key {
				t.Fatalf("error %v, want one about %s", err, tc.key)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// A package name apt-get does not know is an error about kernel.package
// that says what to do.
func TestFetchUnknownPackage(t *testing.T) {
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("no apt-get")
	}
	_, err := Resolve(context.Background(), Options{Package: "linux-image-does-not-exist-rlbuild", CacheDir: t.TempDir()})
	var e *Error
	if !errors.As(err, &e) || e.Key != "kernel.package" || !strings.Contains(err.Error(), "linux-image-does-not-exist-rlbuild") || !strings.Contains(err.Error(), "set kernel.package to a downloaded .deb") {
		t.Errorf("error %v", err)
	}
}
