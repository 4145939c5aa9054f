package flash

import (
	"golang.org/x/sys/unix"
)

// statDevice returns the device number a device node stands for and the
// kind of file at path.
func statDevice(path string) (rdev uint64, kind string, err error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, "", err
	}
	return st.Rdev, fileKind(st.Mode), nil
}

// fileDevice returns the device number of the file system holding path,
// and the file's inode number.
func fileDevice(path string) (dev, ino uint64, err error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, 0, err
	}
	return st.Dev, st.Ino, nil
}

func fileKind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFBLK:
		return "block device"
	case unix.S_IFCHR:
		return "character device"
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFREG:
		return "regular file"
	case unix.S_IFIFO:
		return "named pipe"
	case unix.S_IFSOCK:
		return "socket"
	}
	return "special file"
}
