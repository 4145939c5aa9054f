package images

import (
	"fmt"
	"path"
	"strings"

	"github.com/rlgo/redleaf/config"
	"github.com/rlgo/redleaf/kernel/boot"
	"github.com/rlgo/redleaf/rv6/fs/tools"
)

// RV6FSFile is the Rv6 file-system image written beside the disk image
// (rv6.fs.place: disk or both).
const RV6FSFile = "rv6fs.img"

// RV6FSTarget is where the initramfs holds the Rv6 file-system image
// (rv6.fs.place: initramfs or both); the domain kernel loads it as the
// RAM disk's contents.
var RV6FSTarget = strings.TrimPrefix(boot.RAMDiskImage, "/")

// buildRV6FS makes the Rv6 file system of c at out with the packages of
// `rlbuild mkfs`. The image depends only on the config, the files' bytes
// and the time (SOURCE_DATE_EPOCH, or 0): a build of the same inputs gives
// the same bytes.
func buildRV6FS(c *config.Config, p *plan, out string) error {
	f := c.RV6.FS
	adds := make([]tools.Add, len(f.Files))
	for i, e := range f.Files {
		adds[i] = tools.Add{Host: e.Src, Path: path.Clean("/" + e.Dst)}
	}
	opts := tools.MkfsOptions{}
	if !p.fileTime.IsZero() {
		opts.Time = p.fileTime.UnixNano()
	}
	if err := tools.Mkfs(out, int64(f.SizeMiB)<<20, adds, opts); err != nil {
		return fmt.Errorf("rv6.fs: %w (if the file system is full, raise rv6.fs.size_mib, now %d)", err, f.SizeMiB)
	}
	return nil
}
