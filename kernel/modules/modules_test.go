package modules

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestLoadList(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, n := range []string{"vfio.ko", "vfio_virqfd.ko", "vfio-pci-core.ko.xz", "vfio-pci.ko", "missing.ko"} {
		p := filepath.Join(dir, n)
		if n != "missing.ko" {
			os.WriteFile(p, []byte(n), 0o644)
		}
		files = append(files, p)
	}
	list := filepath.Join(dir, "modules.load")
	os.WriteFile(list, []byte("# load order\n"+strings.Join(files, "\n")+"\n\n"), 0o644)

	var calls []string
	var log strings.Builder
	l := &Loader{
		Finit: func(fd int, params string, flags int) error {
			b := make([]byte, 64)
			n, _ := unix.Read(fd, b)
			calls = append(calls, fmt.Sprintf("%s/%d", b[:n], flags))
			if string(b[:n]) == "vfio_virqfd.ko" {
				return unix.EEXIST
			}
			return nil
		},
		Logf: func(format string, args ...any) { fmt.Fprintf(&log, format+"\n", args...) },
	}
	res, err := l.LoadList(list)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"vfio.ko/0", "vfio_virqfd.ko/0", "vfio-pci-core.ko.xz/4", "vfio-pci.ko/0"}
	if strings.Join(calls, " ") != strings.Join(want, " ") {
		t.Errorf("finit_module calls %v, want %v (in order; compressed with MODULE_INIT_COMPRESSED_FILE)", calls, want)
	}
	if res != (Result{Loaded: 3, Present: 1, Failed: 1}) {
		t.Errorf("result %+v", res)
	}
	for _, w := range []string{"module vfio: loaded (" + files[0] + ")", "module vfio_virqfd: already loaded", "module vfio_pci_core: loaded", "module missing: open", "modules: 3 loaded, 1 already present, 1 failed"} {
		if !strings.Contains(log.String(), w) {
			t.Errorf("log lacks %q:\n%s", w, log.String())
		}
	}
}

func TestNoList(t *testing.T) {
	l := &Loader{Finit: func(int, string, int) error { t.Fatal("loaded something"); return nil }}
	if res, err := l.LoadList(filepath.Join(t.TempDir(), "none")); err != nil || res != (Result{}) {
		t.Errorf("%+v, %v", res, err)
	}
}

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"/lib/modules/6.1.0-28-amd64/kernel/drivers/vfio/pci/vfio-pci.ko": "vfio_pci",
		"x/vfio_iommu_type1.ko.xz":                                        "vfio_iommu_type1",
		"crc64-rocksoft.ko.zst":                                           "crc64_rocksoft",
	} {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
}
