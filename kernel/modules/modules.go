// Package modules loads the Linux kernel modules that `rlbuild image`
// packed into the initramfs (kernel.source: debian, kernel.modules): the
// build writes ListFile, one module file per line in load order
// (dependencies first), and the domain kernel calls Load early at boot.
//
// It is trusted kernel code: it makes the finit_module system call.
package modules

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// ListFile names the modules to load, one absolute path per line, in load
// order; '#' starts a comment. The build writes it; nothing else reads it.
const ListFile = "/etc/rl/modules.load"

// Dir is where module files live: Dir/<release>/kernel/....
const Dir = "/lib/modules"

// Loader loads module files.
type Loader struct {
	// Finit loads the module in the open file fd (finit_module(2)).
	// Default unix.FinitModule.
	Finit func(fd int, params string, flags int) error
	// Logf gets one line per module; nil: none.
	Logf func(format string, args ...any)
}

// Result counts what Load did.
type Result struct {
	Loaded  int // newly loaded
	Present int // already loaded (or built in)
	Failed  int
}

// Load loads the modules ListFile names with the default Loader.
func Load(logf func(format string, args ...any)) (Result, error) {
	return (&Loader{Logf: logf}).LoadList(ListFile)
}

// LoadList loads the modules list names, in order, logging each. A module
// that fails is logged and counted, and the others are still tried. A
// missing list is no error: the image has no modules.
func (l *Loader) LoadList(list string) (Result, error) {
	var res Result
	f, err := os.Open(list)
	if errors.Is(err, fs.ErrNotExist) {
		return res, nil
	}
	if err != nil {
		return res, fmt.Errorf("modules: %w", err)
	}
	defer f.Close()
	var files []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line != "" {
			files = append(files, line)
		}
	}
	if err := sc.Err(); err != nil {
		return res, fmt.Errorf("modules: %s: %w", list, err)
	}
	for _, p := range files {
		switch err := l.loadFile(p); {
		case err == nil:
			res.Loaded++
			l.logf("module %s: loaded (%s)", Name(p), p)
		case errors.Is(err, unix.EEXIST):
			res.Present++
			l.logf("module %s: already loaded", Name(p))
		default:
			res.Failed++
			l.logf("module %s: %v", Name(p), err)
		}
	}
	l.logf("modules: %d loaded, %d already present, %d failed", res.Loaded, res.Present, res.Failed)
	return res, nil
}

// loadFile loads one module file. Compressed files (.ko.xz, .ko.zst,
// .ko.gz) are handed to the kernel to decompress: the build packs them
// compressed only for a kernel with CONFIG_MODULE_DECOMPRESS.
func (l *Loader) loadFile(p string) error {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", p, err)
	}
	defer unix.Close(fd)
	flags := 0
	if !strings.HasSuffix(p, ".ko") {
		flags |= unix.MODULE_INIT_COMPRESSED_FILE
	}
	finit := l.Finit
	if finit == nil {
		finit = unix.FinitModule
	}
	if err := finit(fd, "", flags); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return err
		}
		return fmt.Errorf("finit_module %s: %w", p, err)
	}
	return nil
}

func (l *Loader) logf(format string, args ...any) {
	if l.Logf != nil {
		l.Logf(format, args...)
	}
}

// Name is the module name of a module file, as the kernel names it:
// /lib/modules/6.1.0-28-amd64/kernel/drivers/vfio/pci/vfio-pci.ko gives
// vfio_pci.
func Name(file string) string {
	base := path.Base(file)
	if i := strings.Index(base, ".ko"); i > 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}
