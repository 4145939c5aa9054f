package fs_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/rlgo/redleaf/rv6/fs"
	"github.com/rlgo/redleaf/rv6/fs/blockdev"
	"github.com/rlgo/redleaf/rv6/fs/errno"
	"github.com/rlgo/redleaf/rv6/fs/layout"
)

func names(es []fs.DirEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name)
	}
	slices.Sort(out)
	return out
}

func TestCreateReadWrite(t *testing.T) {
	f, d := newFS(t, 8192)
	data := pattern(100_000, 1)
	writeFile(t, f, "/f", data)
	if got := readFile(t, f, "/f"); !bytes.Equal(got, data) {
		t.Fatal("contents differ")
	}
	st, err := f.Stat("/f")
	if err != nil || st.Size != int64(len(data)) || st.Nlink != 1 || st.IsDir() || st.Blocks != 26 {
		t.Fatalf("stat = %+v, %v", st, err)
	}
	// Overwrite in the middle, unaligned.
	fl, err := f.Open("/f", fs.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	patch := pattern(10_000, 9)
	if _, err := fl.WriteAt(patch, 12_345); err != nil {
		t.Fatal(err)
	}
	copy(data[12_345:], patch)
	// Read past the end: io.EOF with the bytes there are.
	buf := make([]byte, 100)
	if n, err := fl.ReadAt(buf, int64(len(data))-10); n != 10 || err != io.EOF {
		t.Fatalf("read at end: %d, %v", n, err)
	}
	if n, err := fl.ReadAt(buf, int64(len(data))+10); n != 0 || err != io.EOF {
		t.Fatalf("read past end: %d, %v", n, err)
	}
	fl.Close()
	if got := readFile(t, f, "/f"); !bytes.Equal(got, data) {
		t.Fatal("contents differ after overwrite")
	}
	// Everything survives a remount.
	if err := f.Unmount(); err != nil {
		t.Fatal(err)
	}
	f = mount(t, d, fs.Options{})
	if got := readFile(t, f, "/f"); !bytes.Equal(got, data) {
		t.Fatal("contents differ after remount")
	}
	checkClean(t, f, d)
}

func TestOpenFlags(t *testing.T) {
	f, d := newFS(t, 4096)
	_, err := f.Open("/nope", fs.O_RDONLY)
	wantErr(t, err, fs.ENOENT)
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "open" || pe.Path != "/nope" || err.Error() != "open /nope: no such file or directory" {
		t.Fatalf("error %q", err)
	}
	fl, err := f.Open("/a", fs.O_WRONLY|fs.O_CREATE|fs.O_EXCL)
	if err != nil {
		t.Fatal(err)
	}
	fl.WriteAt([]byte("hello"), 0)
	_, err = fl.ReadAt(make([]byte, 1), 0)
	wantErr(t, err, fs.EBADF)
	fl.Close()
	_, err = f.Open("/a", fs.O_RDWR|fs.O_CREATE|fs.O_EXCL)
	wantErr(t, err, fs.EEXIST)
	// O_CREATE without O_EXCL opens the existing file, keeping its data.
	fl, err = f.Open("/a", fs.O_RDWR|fs.O_CREATE)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := fl.Stat(); st.Size != 5 {
		t.Fatalf("size %d", st.Size)
	}
	fl.Close()
	// O_TRUNC empties it.
	fl, err = f.Open("/a", fs.O_WRONLY|fs.O_TRUNC)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := fl.Stat(); st.Size != 0 {
		t.Fatalf("size %d after O_TRUNC", st.Size)
	}
	_, err = fl.ReadAt(nil, 0)
	wantErr(t, err, fs.EBADF)
	fl.Close()
	// Read-only files cannot be written.
	fl, _ = f.Open("/a", fs.O_RDONLY)
	_, err = fl.WriteAt([]byte("x"), 0)
	wantErr(t, err, fs.EBADF)
	wantErr(t, fl.Truncate(0), fs.EINVAL)
	fl.Close()
	// Directories.
	f.Mkdir("/d")
	_, err = f.Open("/d", fs.O_WRONLY)
	wantErr(t, err, fs.EISDIR)
	_, err = f.Open("/d/", fs.O_RDWR|fs.O_CREATE)
	wantErr(t, err, fs.EISDIR)
	_, err = f.Open("/a", fs.O_RDONLY|fs.O_DIRECTORY)
	wantErr(t, err, fs.ENOTDIR)
	_, err = f.Open("/a/", fs.O_RDONLY)
	wantErr(t, err, fs.ENOTDIR)
	_, err = f.Open("/a/b", fs.O_RDONLY)
	wantErr(t, err, fs.ENOTDIR)
	_, err = f.Open("/a", fs.O_ACCMODE)
	wantErr(t, err, fs.EINVAL)
	dl, err := f.Open("/d", fs.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	_, err = dl.ReadAt(make([]byte, 1), 0)
	wantErr(t, err, fs.EISDIR)
	es, err := dl.ReadDir()
	if err != nil || len(es) != 0 {
		t.Fatal(es, err)
	}
	dl.Close()
	wantErr(t, dl.Close(), fs.EBADF)
	_, err = dl.Stat()
	wantErr(t, err, fs.EBADF)
	// Names.
	_, err = f.Create("/" + strings.Repeat("x", layout.NameMax+1))
	wantErr(t, err, fs.ENAMETOOLONG)
	writeFile(t, f, "/"+strings.Repeat("x", layout.NameMax), []byte("long name"))
	_, err = f.Open("", fs.O_RDONLY)
	wantErr(t, err, fs.ENOENT)
	_, err = f.Open("/"+strings.Repeat("a/", 3000), fs.O_RDONLY)
	wantErr(t, err, fs.ENAMETOOLONG)
	checkClean(t, f, d)
}

func TestMkdirRmdir(t *testing.T) {
	f, d := newFS(t, 4096)
	for _, p := range []string{"/a", "/a/b", "/a/b/c", "/a/d/"} {
		if err := f.Mkdir(p); err != nil {
			t.Fatal(p, err)
		}
	}
	wantErr(t, f.Mkdir("/a"), fs.EEXIST)
	wantErr(t, f.Mkdir("/"), fs.EEXIST)
	wantErr(t, f.Mkdir("/a/."), fs.EEXIST)
	wantErr(t, f.Mkdir("/x/y"), fs.ENOENT)
	st, _ := f.Stat("/a")
	if st.Nlink != 4 { // its entry, ".", and the ".." of b and d
		t.Fatalf("nlink of /a = %d", st.Nlink)
	}
	if st, _ := f.Stat("/"); st.Nlink != 3 {
		t.Fatalf("nlink of / = %d", st.Nlink)
	}
	wantErr(t, f.Rmdir("/a"), fs.ENOTEMPTY)
	wantErr(t, f.Rmdir("/a/b/c/."), fs.EINVAL)
	wantErr(t, f.Rmdir("/a/b/c/.."), fs.ENOTEMPTY)
	wantErr(t, f.Rmdir("/"), fs.EINVAL)
	writeFile(t, f, "/a/file", nil)
	wantErr(t, f.Rmdir("/a/file"), fs.ENOTDIR)
	wantErr(t, f.Unlink("/a/b"), fs.EISDIR)
	for _, p := range []string{"/a/b/c", "/a/b", "/a/d/"} {
		if err := f.Rmdir(p); err != nil {
			t.Fatal(p, err)
		}
	}
	wantErr(t, f.Rmdir("/a/b"), fs.ENOENT)
	if st, _ := f.Stat("/a"); st.Nlink != 2 {
		t.Fatalf("nlink of /a = %d", st.Nlink)
	}
	es, _ := f.ReadDir("/a")
	if got := names(es); !slices.Equal(got, []string{"file"}) {
		t.Fatal(got)
	}
	checkClean(t, f, d)
}

func TestUnlinkLink(t *testing.T) {
	f, d := newFS(t, 4096)
	writeFile(t, f, "/a", []byte("data"))
	if err := f.Link("/a", "/b"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, f.Link("/a", "/b"), fs.EEXIST)
	wantErr(t, f.Link("/nope", "/c"), fs.ENOENT)
	f.Mkdir("/d")
	wantErr(t, f.Link("/d", "/e"), fs.EPERM)
	var le *fs.LinkError
	if err := f.Link("/d", "/e"); !errors.As(err, &le) || le.Old != "/d" || le.New != "/e" {
		t.Fatalf("%v", err)
	}
	if st, _ := f.Stat("/b"); st.Nlink != 2 {
		t.Fatalf("nlink %d", st.Nlink)
	}
	if err := f.Unlink("/a"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, f.Unlink("/a"), fs.ENOENT)
	wantErr(t, f.Unlink("/b/"), fs.ENOTDIR)
	if got := readFile(t, f, "/b"); string(got) != "data" {
		t.Fatal(string(got))
	}
	if st, _ := f.Stat("/b"); st.Nlink != 1 {
		t.Fatalf("nlink %d", st.Nlink)
	}
	free0, _ := f.Statfs()
	if err := f.Unlink("/b"); err != nil {
		t.Fatal(err)
	}
	free1, _ := f.Statfs()
	if free1.FreeBlocks != free0.FreeBlocks+1 || free1.FreeInodes != free0.FreeInodes+1 {
		t.Fatalf("statfs %+v -> %+v", free0, free1)
	}
	checkClean(t, f, d)
}

func TestUnlinkOpenFile(t *testing.T) {
	f, d := newFS(t, 4096)
	data := pattern(50_000, 3)
	writeFile(t, f, "/a", data)
	fl, err := f.Open("/a", fs.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := f.Statfs()
	if err := f.Unlink("/a"); err != nil {
		t.Fatal(err)
	}
	// Still readable and writable through the open file.
	buf := make([]byte, len(data))
	if _, err := fl.ReadAt(buf, 0); err != nil || !bytes.Equal(buf, data) {
		t.Fatal("read after unlink", err)
	}
	if _, err := fl.WriteAt([]byte("more"), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if st, _ := fl.Stat(); st.Nlink != 0 {
		t.Fatal("nlink", st.Nlink)
	}
	mid, _ := f.Statfs()
	if mid.FreeBlocks > before.FreeBlocks {
		t.Fatal("blocks freed while open")
	}
	if err := fl.Close(); err != nil {
		t.Fatal(err)
	}
	after, _ := f.Statfs()
	if after.FreeBlocks != before.FreeBlocks+14 || after.FreeInodes != before.FreeInodes+1 {
		t.Fatalf("free blocks %d -> %d, inodes %d -> %d", before.FreeBlocks, after.FreeBlocks, before.FreeInodes, after.FreeInodes)
	}
	checkClean(t, f, d)
}

func TestOrphanAfterCrash(t *testing.T) {
	f, d := newFS(t, 4096)
	writeFile(t, f, "/a", pattern(40_000, 1))
	fl, _ := f.Open("/a", fs.O_RDONLY)
	f.Unlink("/a")
	// Crash with the file open: the image has an orphan.
	img := d.Clone()
	r := checkClean(t, nil, img)
	if !slices.ContainsFunc(r.Notes, func(s string) bool { return strings.Contains(s, "orphan") }) {
		t.Fatalf("no orphan note: %v", r.Notes)
	}
	f2 := mount(t, img, fs.Options{})
	checkClean(t, f2, img)
	// An unmount with the file still open leaves the orphan for the next
	// mount, and says so.
	if err := f.Unmount(); err != nil {
		t.Fatal(err)
	}
	_, err := fl.ReadAt(make([]byte, 1), 0)
	wantErr(t, err, fs.EIO)
	r = checkClean(t, nil, d)
	if len(r.Notes) == 0 {
		t.Fatal("no notes")
	}
	checkClean(t, mount(t, d, fs.Options{}), d)
}

func TestRename(t *testing.T) {
	f, d := newFS(t, 4096)
	mk := func(ps ...string) {
		for _, p := range ps {
			if strings.HasSuffix(p, "/") {
				if err := f.Mkdir(p); err != nil {
					t.Fatal(p, err)
				}
			} else {
				writeFile(t, f, p, []byte(p))
			}
		}
	}
	mk("/a/", "/a/b/", "/a/b/c/", "/a/f", "/g", "/e/", "/full/", "/full/x")
	// Simple renames, same and other directory.
	if err := f.Rename("/a/f", "/a/f2"); err != nil {
		t.Fatal(err)
	}
	if err := f.Rename("/a/f2", "/f3"); err != nil {
		t.Fatal(err)
	}
	if string(readFile(t, f, "/f3")) != "/a/f" {
		t.Fatal("content")
	}
	// Replace a file.
	if err := f.Rename("/f3", "/g"); err != nil {
		t.Fatal(err)
	}
	if string(readFile(t, f, "/g")) != "/a/f" {
		t.Fatal("content")
	}
	_, err := f.Stat("/f3")
	wantErr(t, err, fs.ENOENT)
	// Move a directory: link counts and "..".
	if err := f.Rename("/a/b", "/e/b"); err != nil {
		t.Fatal(err)
	}
	for p, n := range map[string]uint16{"/a": 2, "/e": 3, "/e/b": 3} {
		if st, _ := f.Stat(p); st.Nlink != n {
			t.Fatalf("nlink %s = %d, want %d", p, st.Nlink, n)
		}
	}
	if st, _ := f.Stat("/e/b/c/../.."); st.Inum != mustStat(t, f, "/e").Inum {
		t.Fatal(".. not updated")
	}
	// Replace an empty directory; not a non-empty one.
	mk("/a/empty/")
	if err := f.Rename("/e/b", "/a/empty"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, f.Rename("/a/empty", "/full"), fs.ENOTEMPTY)
	// Errors.
	wantErr(t, f.Rename("/nope", "/x"), fs.ENOENT)
	wantErr(t, f.Rename("/a", "/a/empty/c/x"), fs.EINVAL)
	wantErr(t, f.Rename("/a", "/a/x"), fs.EINVAL)
	wantErr(t, f.Rename("/g", "/a"), fs.EISDIR)
	wantErr(t, f.Rename("/a", "/g"), fs.ENOTDIR)
	wantErr(t, f.Rename("/g", "/h/"), fs.ENOTDIR)
	wantErr(t, f.Rename("/a/empty/c", "/a"), fs.ENOTEMPTY)
	wantErr(t, f.Rename("/a/empty/c", "/a/empty"), fs.ENOTEMPTY)
	wantErr(t, f.Rename("/full/x", "/full"), fs.EISDIR)
	wantErr(t, f.Rename("/", "/z"), fs.EBUSY)
	wantErr(t, f.Rename("/a/.", "/z"), fs.EINVAL)
	wantErr(t, f.Rename("/a", "/a/.."), fs.EINVAL)
	// Same inode under two names: nothing happens.
	f.Link("/g", "/g2")
	if err := f.Rename("/g", "/g2"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Stat("/g"); err != nil {
		t.Fatal(err)
	}
	// A directory onto itself.
	if err := f.Rename("/a", "/a"); err != nil {
		t.Fatal(err)
	}
	checkClean(t, f, d)
}

func mustStat(t *testing.T, f *fs.FS, p string) fs.Stat {
	t.Helper()
	st, err := f.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestCwd(t *testing.T) {
	f, d := newFS(t, 4096)
	c := f.Cwd()
	defer c.Close()
	if wd, err := c.Getwd(); wd != "/" || err != nil {
		t.Fatal(wd, err)
	}
	c.Mkdir("a")
	c.Mkdir("a/b")
	if err := c.Chdir("a/b"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, c, "f", []byte("rel"))
	if string(readFile(t, f, "/a/b/f")) != "rel" {
		t.Fatal("relative create")
	}
	if wd, err := c.Getwd(); wd != "/a/b" || err != nil {
		t.Fatal(wd, err)
	}
	c2, _ := c.Clone()
	if err := c2.Chdir("../.."); err != nil {
		t.Fatal(err)
	}
	if wd, _ := c2.Getwd(); wd != "/" {
		t.Fatal(wd)
	}
	if wd, _ := c.Getwd(); wd != "/a/b" {
		t.Fatal(wd)
	}
	// Renaming an ancestor moves the working directory along.
	if err := f.Rename("/a", "/z"); err != nil {
		t.Fatal(err)
	}
	if wd, _ := c.Getwd(); wd != "/z/b" {
		t.Fatal(wd)
	}
	wantErr(t, c.Chdir("f"), fs.ENOTDIR)
	// A removed working directory.
	c2.Chdir("/z/b")
	c2.Unlink("f")
	if err := c2.Rmdir("/z/b"); err != nil {
		t.Fatal(err)
	}
	_, err := c.Getwd()
	wantErr(t, err, fs.ENOENT)
	_, err = c.Create("g")
	wantErr(t, err, fs.ENOENT)
	wantErr(t, c.Mkdir("g"), fs.ENOENT)
	if err := c.Chdir("/"); err != nil {
		t.Fatal(err)
	}
	c2.Close()
	_, err = c2.Getwd()
	wantErr(t, err, fs.EBADF)
	checkClean(t, f, d)
}

func TestAppendTruncate(t *testing.T) {
	f, d := newFS(t, 8192)
	fl, _ := f.Create("/a")
	var want []byte
	for i := range 20 {
		p := pattern(1000+i*517, byte(i))
		off, n, err := fl.Append(p)
		if err != nil || n != len(p) || off != int64(len(want)) {
			t.Fatal(off, n, err)
		}
		want = append(want, p...)
	}
	for _, size := range []int64{100_000, 5000, 4096, 4095, 1, 0, 70_000} {
		if err := fl.Truncate(size); err != nil {
			t.Fatal(err)
		}
		if size <= int64(len(want)) {
			want = want[:size]
		} else {
			want = append(want, make([]byte, size-int64(len(want)))...)
		}
		buf := make([]byte, len(want))
		if n, err := fl.ReadAt(buf, 0); n != len(want) || (err != nil && err != io.EOF) || !bytes.Equal(buf, want) {
			t.Fatalf("truncate %d: %d, %v", size, n, err)
		}
	}
	// Bytes past a shrink read as zeros when the file grows again.
	fl.WriteAt(pattern(8192, 5), 0)
	fl.Truncate(10)
	fl.Truncate(8192)
	buf := make([]byte, 8192)
	fl.ReadAt(buf, 0)
	if !bytes.Equal(buf[:10], pattern(10, 5)) || !bytes.Equal(buf[10:], make([]byte, 8182)) {
		t.Fatal("stale bytes after truncate")
	}
	wantErr(t, fl.Truncate(-1), fs.EINVAL)
	wantErr(t, fl.Truncate(layout.MaxFileSize+1), fs.EFBIG)
	fl.Close()
	checkClean(t, f, d)
}

func TestHolesAndLargeFile(t *testing.T) {
	// A 16 GiB file system (sparse RAM disk) and a file of 4 GiB, the
	// largest, with data in every region of the block map.
	const blocks = 16 << 30 / layout.BlockSize
	f, d := newFS(t, blocks)
	sf, _ := f.Statfs()
	if sf.Blocks < blocks-10000 {
		t.Fatalf("statfs %+v", sf)
	}
	fl, err := f.Create("/big")
	if err != nil {
		t.Fatal(err)
	}
	offs := []int64{0, 11 * 4096, 12 * 4096, 1035 * 4096, 1036 * 4096, 1 << 30, 3<<30 + 12345, layout.MaxFileSize - 4096}
	for i, off := range offs {
		if _, err := fl.WriteAt(pattern(4096, byte(i)), off); err != nil {
			t.Fatal(off, err)
		}
	}
	_, err = fl.WriteAt([]byte("x"), layout.MaxFileSize)
	wantErr(t, err, fs.EFBIG)
	n, err := fl.WriteAt([]byte("xy"), layout.MaxFileSize-1)
	if n != 1 {
		t.Fatal(n, err)
	}
	wantErr(t, err, fs.EFBIG)
	st, _ := fl.Stat()
	if st.Size != layout.MaxFileSize {
		t.Fatal(st.Size)
	}
	for i, off := range offs {
		buf := make([]byte, 4096)
		if _, err := fl.ReadAt(buf, off); err != nil {
			t.Fatal(err)
		}
		want := pattern(4096, byte(i))
		if i == len(offs)-1 {
			want[4095] = 'x'
		}
		if !bytes.Equal(buf, want) {
			t.Fatalf("data at %d", off)
		}
	}
	// A hole reads as zeros.
	buf := make([]byte, 8192)
	fl.ReadAt(buf, 2<<30)
	if !bytes.Equal(buf, make([]byte, 8192)) {
		t.Fatal("hole not zero")
	}
	fl.Close()
	if r := checkClean(t, f, d); r.Files != 1 {
		t.Fatal(r.Files)
	}
	f = mount(t, d, fs.Options{})
	before, _ := f.Statfs()
	if err := f.Unlink("/big"); err != nil {
		t.Fatal(err)
	}
	after, _ := f.Statfs()
	if after.FreeBlocks-before.FreeBlocks != st.Blocks {
		t.Fatalf("freed %d blocks, the file had %d", after.FreeBlocks-before.FreeBlocks, st.Blocks)
	}
	checkClean(t, f, d)
}

func TestGigabyteFile(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("writes 1 GiB: too slow for -short and -race")
	}
	// 1 GiB written densely (through the doubly-indirect range), read
	// back, on a file system just large enough; then a truncation that
	// takes many transactions.
	const size = 1 << 30
	f, d := newFS(t, size/layout.BlockSize+20_000)
	fl, err := f.Create("/g")
	if err != nil {
		t.Fatal(err)
	}
	chunk := pattern(1<<20, 7)
	for off := int64(0); off < size; off += int64(len(chunk)) {
		chunk[0] = byte(off >> 20)
		if _, err := fl.WriteAt(chunk, off); err != nil {
			t.Fatal(off, err)
		}
	}
	buf := make([]byte, len(chunk))
	for _, off := range []int64{0, 4 << 20, 512 << 20, size - 1<<20} {
		chunk[0] = byte(off >> 20)
		if _, err := fl.ReadAt(buf, off); err != nil || !bytes.Equal(buf, chunk) {
			t.Fatal(off, err)
		}
	}
	if err := fl.Truncate(12345); err != nil {
		t.Fatal(err)
	}
	fl.Close()
	checkClean(t, f, d)
}

func TestENOSPC(t *testing.T) {
	f, d := newFS(t, 512)
	fl, _ := f.Create("/a")
	big := make([]byte, 4<<20)
	n, err := fl.WriteAt(big, 0)
	wantErr(t, err, fs.ENOSPC)
	if n == 0 || n%layout.BlockSize != 0 {
		t.Fatal(n)
	}
	if st, _ := fl.Stat(); st.Size != int64(n) {
		t.Fatal(st.Size, n)
	}
	// Directories and inodes too.
	wantErr(t, f.Mkdir("/d"), fs.ENOSPC)
	fl.Truncate(0)
	fl.Close()
	var i int
	for i = 0; ; i++ {
		fl, err := f.Create(fmt.Sprintf("/f%d", i))
		if err != nil {
			wantErr(t, err, fs.ENOSPC)
			break
		}
		fl.Close()
	}
	if sf, _ := f.Statfs(); sf.FreeInodes != 0 || i != int(sf.Inodes)-2 {
		t.Fatal(sf, i)
	}
	checkClean(t, f, d)
}

func TestReadOnly(t *testing.T) {
	f, d := newFS(t, 4096)
	writeFile(t, f, "/a", []byte("x"))
	f.Unmount()
	ro := mount(t, d, fs.Options{ReadOnly: true})
	if string(readFile(t, ro, "/a")) != "x" {
		t.Fatal("read")
	}
	_, err := ro.Create("/b")
	wantErr(t, err, fs.EROFS)
	wantErr(t, ro.Mkdir("/b"), fs.EROFS)
	wantErr(t, ro.Unlink("/a"), fs.EROFS)
	wantErr(t, ro.Rename("/a", "/b"), fs.EROFS)
	_, err = ro.Open("/a", fs.O_RDWR)
	wantErr(t, err, fs.EROFS)
	ro.Unmount()
	checkClean(t, nil, d)
}

func TestMountErrors(t *testing.T) {
	d := newDisk(t, 256, fs.FormatOptions{})
	// Not a file system.
	z := d.Clone()
	blk := make([]byte, 4096)
	_ = blk
	var zero [4096]byte
	z.Write([]blockdev.Req{{LBA: 1, Data: &zero}})
	_, err := fs.Mount(z, fs.Options{})
	wantErr(t, err, fs.EUCLEAN)
	if !strings.Contains(err.Error(), "magic") {
		t.Fatal(err)
	}
	_, err = fs.Mount(newDisk(t, 64, fs.FormatOptions{LogBlocks: 33, Inodes: 32}), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = fs.Format(d, fs.FormatOptions{Blocks: 20})
	wantErr(t, err, errno.ENOSPC)
}
