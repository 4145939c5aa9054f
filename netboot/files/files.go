// Package files is the read-only view of the host that the netboot servers
// (TFTP and HTTP) hand out. A name from the network is checked by
// CleanName before anything is opened, and directories are opened through
// os.Root, so neither "../", an absolute path, an encoded separator nor a
// symbolic link can reach a file outside the directory being served.
// Only regular files are served: no directories, devices or FIFOs.
package files

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// ErrRefused is returned for names that could leave the served tree.
var ErrRefused = errors.New("name refused")

// CleanName checks a file name received from the network and returns it
// in fs.ValidPath form. It refuses, with an error wrapping ErrRefused:
// empty and absolute names, any "." or ".." element, empty elements
// ("a//b"), backslashes, percent signs (no name is ever URL-decoded here,
// so "%2e%2e%2f" would only be a trap for a later decoder), NUL and other
// control characters.
func CleanName(name string) (string, error) {
	refuse := func(why string) (string, error) {
		return "", fmt.Errorf("%w: %q: %s", ErrRefused, name, why)
	}
	if name == "" {
		return refuse("empty")
	}
	if strings.HasPrefix(name, "/") {
		return refuse("absolute path")
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c < 0x20 || c == 0x7f:
			return refuse("control character")
		case c == '\\':
			return refuse("backslash")
		case c == '%':
			return refuse("percent-encoding")
		}
	}
	for _, elem := range strings.Split(name, "/") {
		switch elem {
		case "":
			return refuse("empty path element")
		case ".", "..":
			return refuse("relative path element " + elem)
		}
	}
	if !fs.ValidPath(name) {
		return refuse("not a valid path")
	}
	return name, nil
}

// Dir serves the regular files below a directory. Its Open checks names
// with CleanName and opens through an os.Root, which refuses symbolic
// links that leave the directory.
type Dir struct {
	root *os.Root
}

// OpenDir opens dir for serving. The Dir keeps a handle on it until Close.
func OpenDir(dir string) (*Dir, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("serving directory: %w", err)
	}
	return &Dir{root: r}, nil
}

// Open opens a regular file for reading. It implements fs.FS.
func (d *Dir) Open(name string) (fs.File, error) {
	clean, err := CleanName(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	// O_NONBLOCK so that a FIFO planted in the tree cannot hang the
	// server in open; it is refused below like any non-regular file.
	f, err := d.root.OpenFile(clean, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		// A symbolic link out of the root, a file where a directory
		// should be, no permission: all the client needs to know is no.
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w: %v", ErrRefused, err)}
	}
	if err := regular(f); err != nil {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return f, nil
}

// Name returns the directory's path.
func (d *Dir) Name() string { return d.root.Name() }

// Close releases the directory.
func (d *Dir) Close() error { return d.root.Close() }

func regular(f fs.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: not a regular file (%s)", ErrRefused, st.Mode().Type())
	}
	return nil
}

// Map is a virtual tree: each name is served from a file of the host,
// e.g. "ipxe.efi" from /usr/lib/ipxe/ipxe.efi. Names not in the map do not
// exist. The host paths are trusted (they come from the server's
// configuration, not from the network); names are still checked with
// CleanName so that a lookup is exact.
type Map map[string]string

// Open opens the file a name maps to. It implements fs.FS.
func (m Map) Open(name string) (fs.File, error) {
	clean, err := CleanName(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	path, ok := m[clean]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if err := regular(f); err != nil {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return f, nil
}

// Union serves each name from the first file system that has it. A name
// refused by one is refused by all.
type Union []fs.FS

// Open implements fs.FS.
func (u Union) Open(name string) (fs.File, error) {
	var firstErr error
	for _, fsys := range u {
		f, err := fsys.Open(name)
		if err == nil {
			return f, nil
		}
		if errors.Is(err, ErrRefused) {
			return nil, err
		}
		if firstErr == nil || errors.Is(firstErr, fs.ErrNotExist) && !errors.Is(err, fs.ErrNotExist) {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return nil, firstErr
}
