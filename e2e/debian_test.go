package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/images/manifest"
)

// configs/qemu-debian.yaml boots Debian's kernel (fetched with apt-get
// download) and loads the modules it names, with their dependencies, in
// order, before the shell.
func TestDebianKernel(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads a kernel package and boots QEMU")
	}
	out := filepath.Join(t.TempDir(), "qemu-debian")
	r := rl(t, nil, "image", "--config", "configs/qemu-debian.yaml", "--out", out)
	if r.code != 0 && strings.Contains(r.stderr, "apt-get") && strings.Contains(r.stderr, "kernel.package") {
		t.Skipf("the Debian kernel package cannot be downloaded here (needs apt-get and Debian's mirrors):\n%s", r.stderr)
	}
	if r.code != 0 {
		t.Fatalf("image: exit %d\n%s", r.code, r.stderr)
	}
	m, err := manifest.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.KernelPackage == nil || !strings.HasPrefix(m.KernelPackage.Name, "linux-image-") || !strings.HasPrefix(m.KernelSource, "debian ") {
		t.Errorf("manifest kernel: %s %+v", m.KernelSource, m.KernelPackage)
	}
	var requested []string
	for _, mod := range m.KernelModules {
		if !strings.HasPrefix(mod.Path, "/lib/modules/"+m.KernelVersion+"/") {
			t.Errorf("module %s at %s, not under /lib/modules/%s", mod.Name, mod.Path, m.KernelVersion)
		}
		if mod.Requested {
			requested = append(requested, mod.Name)
		}
	}
	if strings.Join(requested, " ") != "vfio_pci vfio_iommu_type1" || len(m.KernelModules) < 3 {
		t.Errorf("modules %+v", m.KernelModules)
	}

	transcript := filepath.Join(t.TempDir(), "console.log")
	r = rl(t, nil, "boot", "--artifacts", out, "--mode", "kernel", "--timeout", "3m", "--quiet", "--transcript", transcript,
		"--step", `expect@4m=module vfio: loaded`,
		"--step", `expect=module vfio_pci: loaded`,
		"--step", `expect=modules: [0-9]+ loaded, 0 already present, 0 failed`,
		"--step", `expect=RedLeaf-Go domain kernel .*Linux `+strings.ReplaceAll(m.KernelVersion, ".", `\.`),
		"--step", `expect=\$ `,
		"--step", "send=echo hi",
		"--step", "expect=(?m)^hi$",
		"--step", `expect=\$ `,
		"--step", "send=poweroff")
	if r.code != 0 {
		log, _ := os.ReadFile(transcript)
		t.Fatalf("boot exit %d: %s\nconsole:\n%s", r.code, r.stderr, tail(string(log), 3000))
	}
}
