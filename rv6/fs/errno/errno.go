//rl:domain

// Package errno holds the POSIX-style error values of Rv6: the file system
// returns them, the syscall layer passes them to programs, and programs test
// them with errors.Is.
//
// An Errno is a plain number (Linux's value for the same condition), so it
// crosses a domain boundary as plain data. Operations on names wrap it in a
// *PathError that says which operation failed on which path.
package errno

import "fmt"

// An Errno is a POSIX error number.
type Errno uint16

// The errors Rv6 uses, with Linux's numbers.
const (
	EPERM        Errno = 1
	ENOENT       Errno = 2
	ESRCH        Errno = 3 // no such process
	EINTR        Errno = 4 // a blocking call was interrupted (the process was killed)
	EIO          Errno = 5
	EBADF        Errno = 9
	ECHILD       Errno = 10 // no child to wait for
	EAGAIN       Errno = 11
	EACCES       Errno = 13
	EBUSY        Errno = 16
	EEXIST       Errno = 17
	EXDEV        Errno = 18
	ENOTDIR      Errno = 20
	EISDIR       Errno = 21
	EINVAL       Errno = 22
	EMFILE       Errno = 24 // too many open descriptors
	ENOTTY       Errno = 25 // not the console
	EFBIG        Errno = 27
	ENOSPC       Errno = 28
	ESPIPE       Errno = 29 // seeking a pipe or the console
	EROFS        Errno = 30
	EMLINK       Errno = 31
	EPIPE        Errno = 32 // writing a pipe nobody reads
	ENAMETOOLONG Errno = 36
	ENOSYS       Errno = 38 // not implemented, or not granted
	ENOTEMPTY    Errno = 39
	EUCLEAN      Errno = 117 // the file system's structures are corrupt

	// The network's (services/netstack).
	EMSGSIZE     Errno = 90
	ECONNABORTED Errno = 103
	ECONNRESET   Errno = 104
	EADDRINUSE   Errno = 98
	ENOTCONN     Errno = 107
	ETIMEDOUT    Errno = 110
	ECONNREFUSED Errno = 111
	EHOSTUNREACH Errno = 113
	ENETDOWN     Errno = 100 // the stack has no address (DHCP has no lease)
	ENOTSOCK     Errno = 88
	EDESTADDRREQ Errno = 89
	EOPNOTSUPP   Errno = 95
	ENETRESET    Errno = 102
	EISCONN      Errno = 106
)

// messages are the texts of the Errnos, as strerror gives them. The table is
// filled in its declaration and only read.
var messages = map[Errno]string{
	EPERM:        "operation not permitted",
	ENOENT:       "no such file or directory",
	ESRCH:        "no such process",
	EINTR:        "interrupted system call",
	EIO:          "input/output error",
	EBADF:        "bad file descriptor",
	ECHILD:       "no child processes",
	EAGAIN:       "resource temporarily unavailable",
	EACCES:       "permission denied",
	EBUSY:        "device or resource busy",
	EEXIST:       "file exists",
	EXDEV:        "invalid cross-device link",
	ENOTDIR:      "not a directory",
	EISDIR:       "is a directory",
	EINVAL:       "invalid argument",
	EMFILE:       "too many open files",
	ENOTTY:       "inappropriate ioctl for device",
	EFBIG:        "file too large",
	ENOSPC:       "no space left on device",
	ESPIPE:       "illegal seek",
	EROFS:        "read-only file system",
	EMLINK:       "too many links",
	EPIPE:        "broken pipe",
	ENAMETOOLONG: "file name too long",
	ENOSYS:       "function not implemented",
	ENOTEMPTY:    "directory not empty",
	EUCLEAN:      "file system corrupted (structure needs cleaning)",
	EMSGSIZE:     "message too long",
	ECONNABORTED: "software caused connection abort",
	ECONNRESET:   "connection reset by peer",
	EADDRINUSE:   "address already in use",
	ENOTCONN:     "transport endpoint is not connected",
	ETIMEDOUT:    "connection timed out",
	ECONNREFUSED: "connection refused",
	EHOSTUNREACH: "no route to host",
	ENETDOWN:     "network is down",
	ENOTSOCK:     "socket operation on non-socket",
	EDESTADDRREQ: "destination address required",
	EOPNOTSUPP:   "operation not supported",
	ENETRESET:    "network dropped connection on reset (the network stack restarted)",
	EISCONN:      "transport endpoint is already connected",
}

// names are the symbolic names of the Errnos.
var names = map[Errno]string{
	EPERM: "EPERM", ENOENT: "ENOENT", EIO: "EIO", EBADF: "EBADF", EBUSY: "EBUSY",
	EEXIST: "EEXIST", EXDEV: "EXDEV", ENOTDIR: "ENOTDIR", EISDIR: "EISDIR",
	EINVAL: "EINVAL", EFBIG: "EFBIG", ENOSPC: "ENOSPC", EROFS: "EROFS",
	EMLINK: "EMLINK", ENAMETOOLONG: "ENAMETOOLONG", ENOTEMPTY: "ENOTEMPTY",
	EUCLEAN: "EUCLEAN", ESRCH: "ESRCH", EINTR: "EINTR", ECHILD: "ECHILD", EAGAIN: "EAGAIN",
	EACCES: "EACCES", EMFILE: "EMFILE", ENOTTY: "ENOTTY", ESPIPE: "ESPIPE", EPIPE: "EPIPE",
	ENOSYS: "ENOSYS", EMSGSIZE: "EMSGSIZE", ECONNABORTED: "ECONNABORTED", ECONNRESET: "ECONNRESET",
	EADDRINUSE: "EADDRINUSE", ENOTCONN: "ENOTCONN", ETIMEDOUT: "ETIMEDOUT", ECONNREFUSED: "ECONNREFUSED",
	EHOSTUNREACH: "EHOSTUNREACH", ENETDOWN: "ENETDOWN",
	ENOTSOCK: "ENOTSOCK", EDESTADDRREQ: "EDESTADDRREQ", EOPNOTSUPP: "EOPNOTSUPP",
	ENETRESET: "ENETRESET", EISCONN: "EISCONN",
}

// Error returns the message of e, as strerror would.
func (e Errno) Error() string {
	if m, ok := messages[e]; ok {
		return m
	}
	return fmt.Sprintf("errno %d", uint16(e))
}

// Name returns the symbolic name of e ("ENOENT").
func (e Errno) Name() string {
	if n, ok := names[e]; ok {
		return n
	}
	return fmt.Sprintf("E%d", uint16(e))
}

// A PathError records an error and the operation and path that caused it.
type PathError struct {
	Op   string // "open", "mkdir", "rename", ...
	Path string
	Err  error // usually an Errno, possibly wrapped with detail
}

func (e *PathError) Error() string { return e.Op + " " + e.Path + ": " + e.Err.Error() }

// Unwrap makes errors.Is(err, ENOENT) work through a PathError.
func (e *PathError) Unwrap() error { return e.Err }

// A LinkError records an error of an operation on two paths (rename, link).
type LinkError struct {
	Op  string
	Old string
	New string
	Err error
}

func (e *LinkError) Error() string { return e.Op + " " + e.Old + " " + e.New + ": " + e.Err.Error() }

// Unwrap makes errors.Is work through a LinkError.
func (e *LinkError) Unwrap() error { return e.Err }

// Corrupt returns an EUCLEAN error that says what is wrong with the
// on-disk structures.
func Corrupt(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), EUCLEAN)
}
