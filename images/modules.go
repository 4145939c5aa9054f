package images

import (
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/rlgo/redleaf/images/debkernel"
	"github.com/rlgo/redleaf/images/initramfs"
	"github.com/rlgo/redleaf/kernel/modules"
)

// moduleTarget is where the initramfs holds a module.
func moduleTarget(k *debkernel.Kernel, m debkernel.Module) string {
	return path.Join(modules.Dir, k.Release, m.Path)
}

// moduleFiles returns the initramfs files of a Debian kernel's modules:
// each module under /lib/modules/<release>/, modules.dep for them, and
// the load list (kernel/modules.ListFile) that the domain kernel follows at
// boot. The two generated files are written to work.
func moduleFiles(k *debkernel.Kernel, work string) ([]initramfs.File, error) {
	if len(k.Modules) == 0 {
		return nil, nil
	}
	var files []initramfs.File
	var list strings.Builder
	list.WriteString("# Written by rlbuild image: the modules of " + k.Name + " " + k.Version + " in load order.\n")
	for _, m := range k.Modules {
		t := moduleTarget(k, m)
		files = append(files, initramfs.File{Host: m.Host, Target: strings.TrimPrefix(t, "/")})
		list.WriteString(t + "\n")
	}
	listFile := filepath.Join(work, "modules.load")
	depFile := filepath.Join(work, "modules.dep")
	if err := os.WriteFile(listFile, []byte(list.String()), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(depFile, []byte(k.ModulesDep), 0o644); err != nil {
		return nil, err
	}
	files = append(files,
		initramfs.File{Host: listFile, Target: strings.TrimPrefix(modules.ListFile, "/")},
		initramfs.File{Host: depFile, Target: strings.TrimPrefix(path.Join(modules.Dir, k.Release, "modules.dep"), "/")})
	return files, nil
}
