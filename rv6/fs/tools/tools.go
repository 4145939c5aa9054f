// Package tools holds the host tools for Rv6 file-system images, as
// library functions that rlbuild's commands wire up: Mkfs builds an image
// (reproducibly), Fsck checks one, Ls and Cat look inside one. They run the
// same file-system packages as the target, on a file-backed device
// (package hostdev).
package tools

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rlgo/redleaf/rv6/fs"
	"github.com/rlgo/redleaf/rv6/fs/fsck"
	"github.com/rlgo/redleaf/rv6/fs/hostdev"
)

// An Add puts host file or directory Host into the image at Path
// (absolute; directories are created as needed; a directory is copied
// recursively).
type Add struct {
	Host string
	Path string
}

// ParseAdd parses "HOSTPATH:PATH" (the --add flag). PATH may be relative
// to the root; without ":PATH" the host path's base name at the root is
// meant.
func ParseAdd(s string) (Add, error) {
	host, p, ok := strings.Cut(s, ":")
	if host == "" {
		return Add{}, fmt.Errorf("tools: --add %q: want HOSTPATH:PATH", s)
	}
	if !ok || p == "" {
		p = filepath.Base(host)
	}
	return Add{Host: host, Path: path.Clean("/" + p)}, nil
}

// MkfsOptions shape the image Mkfs builds; zero values mean the defaults.
type MkfsOptions struct {
	Inodes    uint32
	LogBlocks uint32
	// Time is the timestamp of everything in the image, Unix
	// nanoseconds. It is fixed (0 unless given: e.g. SOURCE_DATE_EPOCH)
	// so that the same inputs give the same bytes.
	Time int64
}

// copyChunk is the size of the writes Mkfs copies files with.
const copyChunk = 1 << 20

// maxHostDepth bounds the recursion into host directories (symbolic links
// are followed, so a loop is possible).
const maxHostDepth = 64

// Mkfs creates image (replacing it) as a file system of size bytes (a
// whole number of 4 KiB blocks) holding adds, in order. The image is
// reproducible: host directories are read in name order, timestamps are
// opts.Time, and nothing depends on the host's clock or the file's old
// contents. Only the contents of host files are copied (not modes, owners
// or times).
func Mkfs(image string, size int64, adds []Add, opts MkfsOptions) (err error) {
	dev, err := hostdev.Create(image, size, hostdev.Options{NoSync: true})
	if err != nil {
		return fmt.Errorf("mkfs: %w", err)
	}
	defer func() {
		if cerr := dev.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("mkfs: %w", cerr)
		}
		if err != nil {
			os.Remove(image)
		}
	}()
	if err := fs.Format(dev, fs.FormatOptions{Inodes: opts.Inodes, LogBlocks: opts.LogBlocks, Time: opts.Time}); err != nil {
		return fmt.Errorf("mkfs: %w", err)
	}
	f, err := fs.Mount(dev, fs.Options{Durability: fs.SyncOnDemand, Now: func() int64 { return opts.Time }})
	if err != nil {
		return fmt.Errorf("mkfs: %w", err)
	}
	for _, a := range adds {
		if err := add(f, a.Host, path.Clean("/"+a.Path), 0); err != nil {
			f.Unmount()
			return fmt.Errorf("mkfs: adding %s as %s: %w", a.Host, a.Path, err)
		}
	}
	if err := f.Unmount(); err != nil {
		return fmt.Errorf("mkfs: %w", err)
	}
	return nil
}

// add copies host path h to p in f.
func add(f *fs.FS, h, p string, depth int) error {
	if depth > maxHostDepth {
		return fmt.Errorf("%s: more than %d levels of directories (a symbolic link loop?)", h, maxHostDepth)
	}
	fi, err := os.Stat(h)
	if err != nil {
		return err
	}
	if err := mkdirAll(f, path.Dir(p)); err != nil {
		return err
	}
	switch {
	case fi.IsDir():
		if p != "/" {
			if err := f.Mkdir(p); err != nil && !errors.Is(err, fs.EEXIST) {
				return err
			}
		}
		ents, err := os.ReadDir(h) // sorted by name
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := add(f, filepath.Join(h, e.Name()), path.Join(p, e.Name()), depth+1); err != nil {
				return err
			}
		}
		return nil
	case fi.Mode().IsRegular():
		return copyFile(f, h, p)
	default:
		return fmt.Errorf("%s: only regular files and directories can be added, not %v", h, fi.Mode().Type())
	}
}

// mkdirAll creates directory p and its parents.
func mkdirAll(f *fs.FS, p string) error {
	if p == "/" {
		return nil
	}
	if st, err := f.Stat(p); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("%s is a file in the image, not a directory", p)
		}
		return nil
	}
	if err := mkdirAll(f, path.Dir(p)); err != nil {
		return err
	}
	if err := f.Mkdir(p); err != nil && !errors.Is(err, fs.EEXIST) {
		return err
	}
	return nil
}

func copyFile(f *fs.FS, h, p string) error {
	src, err := os.Open(h)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := f.Create(p)
	if err != nil {
		return err
	}
	buf := make([]byte, copyChunk)
	var off int64
	for {
		n, rerr := io.ReadFull(src, buf)
		if n > 0 {
			if _, err := dst.WriteAt(buf[:n], off); err != nil {
				dst.Close()
				return err
			}
			off += int64(n)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			dst.Close()
			return rerr
		}
	}
	return dst.Close()
}

// Fsck checks image and returns the report; err is for an image that
// cannot be read at all. The image is not changed.
func Fsck(image string) (*fsck.Report, error) {
	dev, err := hostdev.Open(image, hostdev.Options{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("fsck: %w", err)
	}
	defer dev.Close()
	r, err := fsck.Check(dev)
	if err != nil {
		return nil, fmt.Errorf("fsck: %s: %w", image, err)
	}
	return r, nil
}

// WriteReport prints a report: problems, then notes, then a summary line.
func WriteReport(w io.Writer, image string, r *fsck.Report) {
	for _, p := range r.Problems {
		fmt.Fprintf(w, "%s: %s\n", image, p)
	}
	kinds := make([]string, 0, len(r.Omitted))
	for k := range r.Omitted {
		kinds = append(kinds, string(k))
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "%s: %s: %d more problems of this kind\n", image, k, r.Omitted[fsck.Kind(k)])
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "%s: note: %s\n", image, n)
	}
	status := "consistent"
	if !r.OK() {
		status = fmt.Sprintf("%d problems", len(r.Problems)+sumOmitted(r))
	}
	fmt.Fprintf(w, "%s: %s (%d files, %d directories, %d blocks in use)\n", image, status, r.Files, r.Dirs, r.Blocks)
}

func sumOmitted(r *fsck.Report) int {
	n := 0
	for _, k := range r.Omitted {
		n += k
	}
	return n
}

// An Entry is a listed file: its path in the image and status.
type Entry struct {
	Path string
	Stat fs.Stat
}

// withImage mounts image read-only (a committed log is shown as replayed,
// nothing is written) and runs fn.
func withImage(image string, fn func(f *fs.FS) error) error {
	dev, err := hostdev.Open(image, hostdev.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer dev.Close()
	f, err := fs.Mount(dev, fs.Options{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("%s: %w", image, err)
	}
	defer f.Unmount()
	return fn(f)
}

// Ls lists p in image: a directory's entries (recursively if asked, in
// name order), or the file itself.
func Ls(image, p string, recursive bool) ([]Entry, error) {
	var out []Entry
	err := withImage(image, func(f *fs.FS) error {
		st, err := f.Stat(p)
		if err != nil {
			return err
		}
		if !st.IsDir() {
			out = append(out, Entry{Path: p, Stat: st})
			return nil
		}
		return lsDir(f, p, recursive, &out, 0)
	})
	return out, err
}

func lsDir(f *fs.FS, p string, recursive bool, out *[]Entry, depth int) error {
	if depth > 1024 {
		return fmt.Errorf("%s: too deep", p)
	}
	es, err := f.ReadDir(p)
	if err != nil {
		return err
	}
	sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name })
	for _, e := range es {
		cp := path.Join(p, e.Name)
		st, err := f.Stat(cp)
		if err != nil {
			return err
		}
		*out = append(*out, Entry{Path: cp, Stat: st})
		if recursive && st.IsDir() {
			if err := lsDir(f, cp, true, out, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteLs prints entries as "type inode links size path" lines.
func WriteLs(w io.Writer, entries []Entry) {
	for _, e := range entries {
		t := "-"
		if e.Stat.IsDir() {
			t = "d"
		}
		fmt.Fprintf(w, "%s %8d %3d %12d %s\n", t, e.Stat.Inum, e.Stat.Nlink, e.Stat.Size, e.Path)
	}
}

// Cat copies file p of image to w.
func Cat(image, p string, w io.Writer) error {
	return withImage(image, func(f *fs.FS) error {
		fl, err := f.Open(p, fs.O_RDONLY)
		if err != nil {
			return err
		}
		defer fl.Close()
		buf := make([]byte, copyChunk)
		for off := int64(0); ; {
			n, err := fl.ReadAt(buf, off)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return werr
				}
				off += int64(n)
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	})
}
