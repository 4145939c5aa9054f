package initramfs

import (
	"fmt"
	"os"

	"github.com/u-root/mkuimage/cpio"
	"github.com/u-root/mkuimage/uimage/initramfs"
)

// Every entry's metadata in the archive is set here, by the build, and
// never taken from the builder: u-root's builder copies a host file's
// permission bits into its record, and those depend on the umask the file
// was written under (the go build output, the Rv6 image, a checkout's
// files). canonical is applied to every record on its way into the cpio,
// whatever added it (our files, u-root's base archive, parent
// directories it fills in, busybox output), so no later addition can
// bring a host mode back.

// Permission bits the build sets.
const (
	dirPerm  = 0o755
	filePerm = 0o644
	execPerm = 0o755
	linkPerm = 0o777
)

// canonical returns r with owner, group, times, inode numbers and
// permission bits set by the build. A record that u-root's base archive
// defines with the same type (tmp at 0777, dev/console at 0600) keeps the
// base's bits: those are constants of the build, not of the host. Other
// directories get 0755, symbolic links 0777, and regular files 0755 when
// any execute bit is set and 0644 otherwise: the one bit a checkout keeps
// (git records only "executable or not") and that a umask never clears
// for the owner in practice. Set-id and sticky bits are dropped.
func canonical(r cpio.Record, base *cpio.Archive) cpio.Record {
	r = cpio.MakeReproducible(r)
	typ := r.Mode & cpio.S_IFMT
	if b, ok := base.Get(r.Name); ok && b.Mode&cpio.S_IFMT == typ {
		r.Mode = b.Mode
		return r
	}
	var perm uint64
	switch typ {
	case cpio.S_IFDIR:
		perm = dirPerm
	case cpio.S_IFLNK:
		perm = linkPerm
	case cpio.S_IFREG:
		perm = filePerm
		if r.Mode&0o111 != 0 {
			perm = execPerm
		}
	default:
		// Device nodes, fifos and sockets come only from the base archive
		// (handled above); one from elsewhere keeps rw for the owner only.
		perm = 0o600
	}
	r.Mode = typ | perm
	return r
}

// canonicalCPIO is the cpio file the builder writes, with canonical
// applied to every record.
type canonicalCPIO struct {
	path string
	base *cpio.Archive
}

// OpenWriter implements initramfs.WriteOpener.
func (c canonicalCPIO) OpenWriter() (initramfs.Writer, error) {
	f, err := os.OpenFile(c.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	return &canonicalWriter{w: cpio.Newc.Writer(f), f: f, base: c.base}, nil
}

type canonicalWriter struct {
	w    cpio.RecordWriter
	f    *os.File
	base *cpio.Archive
}

func (c *canonicalWriter) WriteRecord(r cpio.Record) error {
	return c.w.WriteRecord(canonical(r, c.base))
}

// Finish writes the trailer and closes the file.
func (c *canonicalWriter) Finish() error {
	err := cpio.WriteTrailer(c.w)
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	return err
}
