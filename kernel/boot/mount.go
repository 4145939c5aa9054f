package boot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Mount is one file system PID 1 mounts at boot.
type Mount struct {
	Source string
	Target string
	FSType string
	Flags  uintptr
	Data   string
	Mode   os.FileMode // of the mount point if it has to be created
	// Optional marks mounts the system works without (the kernel may lack
	// the file system); their failure is reported all the same.
	Optional bool
}

func (m Mount) String() string {
	return fmt.Sprintf("%s on %s type %s", m.Source, m.Target, m.FSType)
}

// DefaultMounts are the file systems the domain kernel needs, in mount
// order (/dev before /dev/pts).
var DefaultMounts = []Mount{
	{Source: "proc", Target: "/proc", FSType: "proc", Flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, Mode: 0o555},
	{Source: "sysfs", Target: "/sys", FSType: "sysfs", Flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, Mode: 0o555},
	{Source: "devtmpfs", Target: "/dev", FSType: "devtmpfs", Flags: unix.MS_NOSUID, Data: "mode=0755", Mode: 0o755},
	{Source: "devpts", Target: "/dev/pts", FSType: "devpts", Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "mode=0620,ptmxmode=0666", Mode: 0o755, Optional: true},
	{Source: "tmpfs", Target: "/tmp", FSType: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: "mode=1777", Mode: 0o1777},
}

// MountError is a failed mount.
type MountError struct {
	Mount Mount
	Err   error
}

func (e *MountError) Error() string {
	opt := ""
	if e.Mount.Optional {
		opt = " (optional)"
	}
	return fmt.Sprintf("mount %s%s: %v", e.Mount, opt, e.Err)
}

func (e *MountError) Unwrap() error { return e.Err }

// mounter abstracts the system calls so that tests can run MountAll
// without privileges.
type mounter struct {
	mount        func(source, target, fstype string, flags uintptr, data string) error
	isMountPoint func(path string) (bool, error)
}

var sysMounter = mounter{mount: unix.Mount, isMountPoint: IsMountPoint}

// MountAll creates the mount points and mounts ms in order. A target that
// already is a mount point, or a mount(2) failing with EBUSY, counts as
// mounted. It goes on after a failure and returns every failure as a
// *MountError. It refuses to run unless this process is PID 1.
func MountAll(ms []Mount) []error {
	if !IsPID1() {
		return []error{ErrNotPID1}
	}
	return sysMounter.mountAll(ms)
}

func (mt mounter) mountAll(ms []Mount) []error {
	var errs []error
	for _, m := range ms {
		if err := mt.mountOne(m); err != nil {
			errs = append(errs, &MountError{Mount: m, Err: err})
		}
	}
	return errs
}

func (mt mounter) mountOne(m Mount) error {
	mode := m.Mode
	if mode == 0 {
		mode = 0o755
	}
	if err := os.MkdirAll(m.Target, mode.Perm()); err != nil {
		return fmt.Errorf("create mount point: %w", err)
	}
	if mounted, err := mt.isMountPoint(m.Target); err == nil && mounted {
		return nil
	}
	err := mt.mount(m.Source, m.Target, m.FSType, m.Flags, m.Data)
	if errors.Is(err, unix.EBUSY) {
		return nil // already mounted
	}
	return err
}

// IsMountPoint reports whether path is the root of a mounted file system,
// by comparing its device with that of its parent. (It does not see a bind
// mount of a directory of the same file system; we make none.)
func IsMountPoint(path string) (bool, error) {
	path = filepath.Clean(path)
	if path == "/" {
		return true, nil
	}
	var st, pst unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return false, err
	}
	if err := unix.Lstat(filepath.Dir(path), &pst); err != nil {
		return false, err
	}
	return st.Dev != pst.Dev || st.Ino == pst.Ino, nil
}
