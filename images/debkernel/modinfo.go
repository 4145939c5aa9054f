package debkernel

import (
	"bytes"
	"debug/elf"
	"fmt"
	"path"
	"strings"
)

// modinfo is what a module's .modinfo section says about it.
type modinfo struct {
	Name    string   // "vfio_pci"
	Depends []string // module names, as the kernel names them
}

// readModinfo parses the .modinfo section of a module (an uncompressed
// ELF .ko): NUL-separated key=value strings, among them name= and
// depends= (a comma-separated list, filled in by modpost from the symbols
// the module uses: the same dependencies depmod writes to modules.dep).
func readModinfo(ko []byte) (modinfo, error) {
	f, err := elf.NewFile(bytes.NewReader(ko))
	if err != nil {
		return modinfo{}, fmt.Errorf("not an ELF module: %w", err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return modinfo{}, fmt.Errorf("no .modinfo section")
	}
	data, err := sec.Data()
	if err != nil {
		return modinfo{}, fmt.Errorf(".modinfo: %w", err)
	}
	var mi modinfo
	for _, kv := range bytes.Split(data, []byte{0}) {
		k, v, ok := strings.Cut(string(kv), "=")
		if !ok {
			continue
		}
		switch k {
		case "name":
			mi.Name = v
		case "depends":
			for _, d := range strings.Split(v, ",") {
				if d = strings.TrimSpace(d); d != "" {
					mi.Depends = append(mi.Depends, normalize(d))
				}
			}
		}
	}
	return mi, nil
}

// normalize gives a module's name as the kernel uses it: modprobe treats
// '-' and '_' alike, the kernel names modules with '_'.
func normalize(name string) string { return strings.ReplaceAll(name, "-", "_") }

// moduleName returns the module name of a module file's path
// ("kernel/drivers/vfio/pci/vfio-pci.ko.xz" gives "vfio_pci"), and whether
// the path is a module at all.
func moduleName(p string) (string, bool) {
	base := path.Base(p)
	for _, ext := range []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"} {
		if strings.HasSuffix(base, ext) {
			return normalize(strings.TrimSuffix(base, ext)), true
		}
	}
	return "", false
}

// compressedExt is the compression suffix of a module's file name ("" for
// a plain .ko).
func compressedExt(p string) string {
	if strings.HasSuffix(p, ".ko") {
		return ""
	}
	return path.Ext(p)
}
