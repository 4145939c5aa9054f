package usertests

import (
	"fmt"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/fs/errno"
)

// testLink checks hard links: shared contents, link counts, and the
// errors of linking onto a name that exists, from one that does not, and
// of a directory.
func testLink(u *suite) error {
	p := u.p
	if err := p.WriteFile("a", []byte("one")); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := p.Link("a", "b"); err != nil {
		return fmt.Errorf("link: %w", err)
	}
	sa, err1 := p.Stat("a")
	sb, err2 := p.Stat("b")
	if err1 != nil || err2 != nil || sa.Inum != sb.Inum || sa.Nlink != 2 {
		return fmt.Errorf("after link: stat a %+v (%v), b %+v (%v); want one inode with 2 links", sa, err1, sb, err2)
	}
	f, err := p.Open("b", idl.OWrOnly|idl.OAppend)
	if err != nil {
		return fmt.Errorf("open b: %w", err)
	}
	f.WriteString(" two")
	f.Close()
	if err := u.check("a", []byte("one two")); err != nil {
		return fmt.Errorf("a write through b: %w", err)
	}
	if err := expect(p.Link("a", "b"), errno.EEXIST, "link onto an existing name"); err != nil {
		return err
	}
	if err := expect(p.Link("nothere", "c"), errno.ENOENT, "link of a missing file"); err != nil {
		return err
	}
	if err := p.Mkdir("dir"); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	if err := p.Link("dir", "dirlink"); err == nil {
		return fmt.Errorf("link of a directory succeeded")
	}
	if err := p.Unlink("a"); err != nil {
		return fmt.Errorf("unlink a: %w", err)
	}
	if sb, err := p.Stat("b"); err != nil || sb.Nlink != 1 {
		return fmt.Errorf("b after unlinking a: %+v, %v; want 1 link", sb, err)
	}
	return u.check("b", []byte("one two"))
}

// testRename checks rename: replacing a file, moving between
// directories, renaming directories, and the errors.
func testRename(u *suite) error {
	p := u.p
	for _, f := range []struct{ name, data string }{{"x", "x data"}, {"y", "y data"}} {
		if err := p.WriteFile(f.name, []byte(f.data)); err != nil {
			return fmt.Errorf("write %s: %w", f.name, err)
		}
	}
	sx, _ := p.Stat("x")
	// Replacing: y becomes x's inode, x is gone.
	if err := p.Rename("x", "y"); err != nil {
		return fmt.Errorf("rename x y: %w", err)
	}
	if err := expect(statErr(p.Stat("x")), errno.ENOENT, "stat of the renamed name"); err != nil {
		return err
	}
	if sy, err := p.Stat("y"); err != nil || sy.Inum != sx.Inum || sy.Nlink != 1 {
		return fmt.Errorf("y after rename: %+v, %v; want inode %d with 1 link", sy, err, sx.Inum)
	}
	if err := u.check("y", []byte("x data")); err != nil {
		return err
	}
	// Into another directory, and back under another name.
	if err := p.Mkdir("d1"); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	if err := p.Rename("y", "d1/z"); err != nil {
		return fmt.Errorf("rename y d1/z: %w", err)
	}
	if err := u.check("d1/z", []byte("x data")); err != nil {
		return err
	}
	// A directory, with its contents; its ".." follows it.
	if err := p.Mkdir("d2"); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	if err := p.Rename("d1", "d2/d1"); err != nil {
		return fmt.Errorf("rename d1 d2/d1: %w", err)
	}
	if err := u.check("d2/d1/z", []byte("x data")); err != nil {
		return err
	}
	if err := u.check("d2/d1/../d1/z", []byte("x data")); err != nil {
		return fmt.Errorf("through the moved directory's ..: %w", err)
	}
	// Errors.
	if err := expect(p.Rename("nothere", "w"), errno.ENOENT, "rename of a missing name"); err != nil {
		return err
	}
	if err := expect(p.Rename("d2", "d2/d1/inside"), errno.EINVAL, "rename of a directory into itself"); err != nil {
		return err
	}
	if err := p.WriteFile("f", nil); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if err := expect(p.Rename("f", "d2"), errno.EISDIR, "rename of a file over a directory"); err != nil {
		return err
	}
	if err := expect(p.Rename("d2", "f"), errno.ENOTDIR, "rename of a directory over a file"); err != nil {
		return err
	}
	if err := p.Mkdir("d3"); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	if err := expect(p.Rename("d3", "d2"), errno.ENOTEMPTY, "rename of a directory over a full one"); err != nil {
		return err
	}
	// Over an empty directory it works.
	if err := p.Mkdir("d4"); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	if err := p.Rename("d2", "d4"); err != nil {
		return fmt.Errorf("rename of a directory over an empty one: %w", err)
	}
	return u.check("d4/d1/z", []byte("x data"))
}

func statErr(_ idl.FileStat, err error) error { return err }

// testDirTree makes a tree of directories and files, walks it, checks the
// link counts of the directories, and removes it bottom up.
func testDirTree(u *suite) error {
	p := u.p
	const fanout, depth = 3, 3
	var dirs []string
	var mk func(dir string, level int) error
	mk = func(dir string, level int) error {
		if err := p.Mkdir(dir); err != nil {
			return fmt.Errorf("mkdir %s: %w", dir, err)
		}
		dirs = append(dirs, dir)
		if err := p.WriteFile(dir+"/file", []byte(dir)); err != nil {
			return fmt.Errorf("write %s/file: %w", dir, err)
		}
		if level == depth {
			return nil
		}
		for i := range fanout {
			if err := mk(fmt.Sprintf("%s/d%d", dir, i), level+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := mk("t", 1); err != nil {
		return err
	}
	// Each directory: its name in its parent, its ".", and each child's "..".
	st, err := p.Stat("t")
	if err != nil || st.Type != idl.FileTypeDir || st.Nlink != 2+fanout {
		return fmt.Errorf("stat t: %+v, %v; want a directory with %d links", st, err, 2+fanout)
	}
	for _, d := range dirs {
		if err := u.check(d+"/file", []byte(d)); err != nil {
			return err
		}
	}
	// Walking up with "..".
	if err := u.check("t/d1/d2/../../d0/file", []byte("t/d0")); err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := p.Unlink(dirs[i] + "/file"); err != nil {
			return fmt.Errorf("unlink %s/file: %w", dirs[i], err)
		}
		if err := p.Rmdir(dirs[i]); err != nil {
			return fmt.Errorf("rmdir %s: %w", dirs[i], err)
		}
	}
	return expect(statErr(p.Stat("t")), errno.ENOENT, "stat of the removed tree")
}

// testDirErrors checks the errors of directory operations.
func testDirErrors(u *suite) error {
	p := u.p
	if err := p.Mkdir("d"); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	if err := p.WriteFile("d/f", []byte("x")); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	for _, c := range []struct {
		what string
		err  error
		want errno.Errno
	}{
		{"mkdir of an existing directory", p.Mkdir("d"), errno.EEXIST},
		{"mkdir of an existing file", p.Mkdir("d/f"), errno.EEXIST},
		{"mkdir under a missing directory", p.Mkdir("nothere/d"), errno.ENOENT},
		{"mkdir under a file", p.Mkdir("d/f/d"), errno.ENOTDIR},
		{"rmdir of a full directory", p.Rmdir("d"), errno.ENOTEMPTY},
		{"rmdir of a file", p.Rmdir("d/f"), errno.ENOTDIR},
		{"rmdir of a missing directory", p.Rmdir("nothere"), errno.ENOENT},
		{"rmdir of .", p.Rmdir("d/."), errno.EINVAL},
		{"unlink of a directory", p.Unlink("d"), errno.EISDIR},
		{"unlink of a missing file", p.Unlink("nothere"), errno.ENOENT},
		{"open of a path through a file", statErr(p.Stat("d/f/x")), errno.ENOTDIR},
		{"open of a directory for writing", openErr(p.Open("d", idl.OWrOnly)), errno.EISDIR},
		{"open O_DIRECTORY of a file", openErr(p.Open("d/f", idl.ORdOnly|idl.ODirectory)), errno.ENOTDIR},
		{"chdir to a file", p.Chdir("d/f"), errno.ENOTDIR},
	} {
		if err := expect(c.err, c.want, c.what); err != nil {
			return err
		}
	}
	// ReadDir of a file fails.
	f, err := p.Open("d/f", idl.ORdOnly)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	_, err = f.ReadDir()
	f.Close()
	if err == nil {
		return fmt.Errorf("readdir of a file succeeded")
	}
	return nil
}

func openErr(f interface{ Close() error }, err error) error {
	if err == nil {
		f.Close()
	}
	return err
}
