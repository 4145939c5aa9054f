package fs

import "github.com/rlgo/redleaf/rv6/fs/errno"

// The errors of the file system, from package errno. Operations on paths
// return them wrapped in *errno.PathError or *errno.LinkError; test with
// errors.Is(err, fs.ENOENT).
const (
	ENOENT       = errno.ENOENT       // no such file or directory
	EEXIST       = errno.EEXIST       // the name is taken
	ENOTDIR      = errno.ENOTDIR      // a path component, or the target, is not a directory
	EISDIR       = errno.EISDIR       // a directory where a file is needed
	ENOTEMPTY    = errno.ENOTEMPTY    // removing or replacing a non-empty directory
	ENOSPC       = errno.ENOSPC       // out of blocks or inodes
	ENAMETOOLONG = errno.ENAMETOOLONG // a name longer than NameMax or a path longer than PathMax
	EINVAL       = errno.EINVAL       // a bad argument (a rename into itself, a negative offset, ...)
	EBADF        = errno.EBADF        // a closed File, or writing a file opened read-only
	EBUSY        = errno.EBUSY        // removing or renaming the root
	EPERM        = errno.EPERM        // a hard link to a directory
	EMLINK       = errno.EMLINK       // too many links
	EFBIG        = errno.EFBIG        // past the largest file size
	EROFS        = errno.EROFS        // changing a read-only mount
	EIO          = errno.EIO          // the device failed, or the file system did
	EUCLEAN      = errno.EUCLEAN      // corrupt on-disk structures
)

// PathError and LinkError are the errors of operations on paths.
type (
	PathError = errno.PathError
	LinkError = errno.LinkError
)

func pathErr(op, path string, err error) error {
	if err == nil {
		return nil
	}
	return &errno.PathError{Op: op, Path: path, Err: err}
}
