package usertests

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/rv6/fs/errno"
)

// pattern returns n bytes whose values depend on their offset off and on
// seed, so that data read from the wrong place or file shows.
func pattern(off int64, n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		x := off + int64(i)
		b[i] = byte(x) ^ byte(x>>8)*7 ^ byte(x>>16)*13 ^ seed
	}
	return b
}

// check reads path and checks its content is want.
func (u *suite) check(path string, want []byte) error {
	got, err := u.p.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%s: read %d bytes, want %d: %s", path, len(got), len(want), diff(got, want))
	}
	return nil
}

// diff says where got and want first differ.
func diff(got, want []byte) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("differing first at offset %d (%#x, want %#x)", i, got[i], want[i])
		}
	}
	return "(a prefix or extension of what was written)"
}

func (u *suite) size(path string, want int64) error {
	st, err := u.p.Stat(path)
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Size != want {
		return fmt.Errorf("stat %s: size %d, want %d", path, st.Size, want)
	}
	return nil
}

func testCreateWrite(u *suite) error {
	p := u.p
	data := pattern(0, 10000, 1)
	f, err := p.Create("f")
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	// Several writes of odd sizes, across block boundaries.
	for off := 0; off < len(data); off += 999 {
		if _, err := f.Write(data[off:min(off+999, len(data))]); err != nil {
			f.Close()
			return fmt.Errorf("write at %d: %w", off, err)
		}
	}
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("fstat: %w", err)
	}
	if st.Type != idl.FileTypeFile || st.Size != int64(len(data)) || st.Nlink != 1 {
		return fmt.Errorf("fstat: %+v, want a file of %d bytes, 1 link", st, len(data))
	}
	// Reading a write-only descriptor fails.
	if _, err := f.Read(make([]byte, 10)); err == nil {
		return fmt.Errorf("read of a write-only descriptor succeeded")
	} else if !errors.Is(err, errno.EBADF) {
		return fmt.Errorf("read of a write-only descriptor: %v, want EBADF", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if err := u.check("f", data); err != nil {
		return err
	}
	// O_CREATE|O_EXCL on an existing file fails.
	_, err = p.Open("f", idl.OWrOnly|idl.OCreate|idl.OExcl)
	if err := expect(err, errno.EEXIST, "open O_EXCL of an existing file"); err != nil {
		return err
	}
	// Opening a missing file without O_CREATE fails.
	_, err = p.Open("nothere", idl.ORdOnly)
	if err := expect(err, errno.ENOENT, "open of a missing file"); err != nil {
		return err
	}
	// A read-only descriptor refuses writes.
	f, err = p.Open("f", idl.ORdOnly)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	_, err = f.Write([]byte("x"))
	f.Close()
	if err := expect(err, errno.EBADF, "write of a read-only descriptor"); err != nil {
		return err
	}
	// Reading at the end gives end of file, repeatedly.
	f, err = p.Open("f", idl.ORdWr)
	if err != nil {
		return fmt.Errorf("open O_RDWR: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return fmt.Errorf("seek to end: %w", err)
	}
	for range 2 {
		if n, err := f.Read(make([]byte, 10)); n != 0 || err != io.EOF {
			return fmt.Errorf("read at end: %d, %v; want 0, EOF", n, err)
		}
	}
	return nil
}

func testAppend(u *suite) error {
	p := u.p
	if err := p.WriteFile("a", []byte("hello")); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	f, err := p.Open("a", idl.OWrOnly|idl.OAppend)
	if err != nil {
		return fmt.Errorf("open O_APPEND: %w", err)
	}
	// O_APPEND writes at the end whatever the offset.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("seek: %w", err)
	}
	for _, s := range []string{", ", "world"} {
		if _, err := f.WriteString(s); err != nil {
			f.Close()
			return fmt.Errorf("append: %w", err)
		}
	}
	f.Close()
	if err := u.check("a", []byte("hello, world")); err != nil {
		return err
	}
	// A plain O_WRONLY overwrites from the start.
	f, err = p.Open("a", idl.OWrOnly)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	f.WriteString("HELLO")
	f.Close()
	return u.check("a", []byte("HELLO, world"))
}

func testTruncate(u *suite) error {
	p := u.p
	data := pattern(0, 20000, 2)
	if err := p.WriteFile("t", data); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	// O_TRUNC empties it.
	f, err := p.Open("t", idl.OWrOnly|idl.OTrunc)
	if err != nil {
		return fmt.Errorf("open O_TRUNC: %w", err)
	}
	f.Close()
	if err := u.size("t", 0); err != nil {
		return err
	}
	if err := p.WriteFile("t", data); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	f, err = p.Open("t", idl.ORdWr)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	// Shrink, then grow: the grown part reads as zeros.
	if err := f.Truncate(5000); err != nil {
		return fmt.Errorf("ftruncate 5000: %w", err)
	}
	if err := f.Truncate(9000); err != nil {
		return fmt.Errorf("ftruncate 9000: %w", err)
	}
	want := append(append([]byte(nil), data[:5000]...), make([]byte, 4000)...)
	if err := u.check("t", want); err != nil {
		return fmt.Errorf("after shrink and grow: %w", err)
	}
	if err := f.Truncate(-1); err == nil {
		return fmt.Errorf("ftruncate -1 succeeded")
	}
	return nil
}

func testSeek(u *suite) error {
	p := u.p
	data := pattern(0, 3*4096+100, 3)
	if err := p.WriteFile("s", data); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	f, err := p.Open("s", idl.ORdWr)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	buf := make([]byte, 100)
	for _, c := range []struct {
		off    int64
		whence int
		want   int64
	}{
		{4090, io.SeekStart, 4090},
		{10, io.SeekCurrent, 4200},
		{-100, io.SeekEnd, int64(len(data)) - 100},
	} {
		pos, err := f.Seek(c.off, c.whence)
		if err != nil || pos != c.want {
			return fmt.Errorf("seek(%d, %d): %d, %v; want %d", c.off, c.whence, pos, err, c.want)
		}
		n, err := io.ReadFull(f, buf)
		if err != nil || !bytes.Equal(buf[:n], data[pos:pos+100]) {
			return fmt.Errorf("read at %d: %d bytes, %v, or wrong data", pos, n, err)
		}
	}
	// A negative offset is refused and leaves the offset alone.
	if _, err := f.Seek(-1, io.SeekStart); err == nil {
		return fmt.Errorf("seek to -1 succeeded")
	}
	// Writing past the end leaves a hole that reads as zeros.
	end := int64(len(data)) + 10000
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		return fmt.Errorf("seek past the end: %w", err)
	}
	if _, err := f.WriteString("tail"); err != nil {
		return fmt.Errorf("write past the end: %w", err)
	}
	want := append(append(append([]byte(nil), data...), make([]byte, 10000)...), "tail"...)
	return u.check("s", want)
}

// testBigFile writes a file past the direct and singly-indirect blocks
// (12 + 1024 blocks of 4 KiB: 4.05 MiB) into the doubly-indirect ones,
// reads it back whole and at scattered offsets, and checks that removing
// it gives its blocks back.
func testBigFile(u *suite) error {
	p := u.p
	size := int64(6 << 20)
	if u.quick {
		size = 4<<20 + 256<<10
	}
	before, err := p.Statfs()
	if err != nil {
		return fmt.Errorf("statfs: %w", err)
	}
	f, err := p.Create("big")
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	const chunk = 64 << 10
	for off := int64(0); off < size; off += chunk {
		if _, err := f.Write(pattern(off, chunk, 4)); err != nil {
			f.Close()
			return fmt.Errorf("write at %d: %w", off, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if err := u.size("big", size); err != nil {
		return err
	}
	f, err = p.Open("big", idl.ORdOnly)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	buf := make([]byte, chunk)
	for off := int64(0); off < size; off += chunk {
		if _, err := io.ReadFull(f, buf); err != nil {
			f.Close()
			return fmt.Errorf("read at %d: %w", off, err)
		}
		if !bytes.Equal(buf, pattern(off, chunk, 4)) {
			f.Close()
			return fmt.Errorf("read at %d: %s", off, diff(buf, pattern(off, chunk, 4)))
		}
	}
	// Scattered reads, each across a block boundary.
	for i := int64(1); i < 40; i++ {
		off := (i*1_000_003)%(size-8192) | 4000
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return fmt.Errorf("seek %d: %w", off, err)
		}
		b := buf[:200]
		if _, err := io.ReadFull(f, b); err != nil || !bytes.Equal(b, pattern(off, 200, 4)) {
			f.Close()
			return fmt.Errorf("read at %d: %v or wrong data", off, err)
		}
	}
	f.Close()
	mid, err := p.Statfs()
	if err != nil {
		return fmt.Errorf("statfs: %w", err)
	}
	if used := int64(before.FreeBlocks) - int64(mid.FreeBlocks); used < size/4096 {
		return fmt.Errorf("a %d-byte file took %d blocks", size, used)
	}
	if err := p.Unlink("big"); err != nil {
		return fmt.Errorf("unlink: %w", err)
	}
	after, err := p.Statfs()
	if err != nil {
		return fmt.Errorf("statfs: %w", err)
	}
	if after.FreeBlocks+2 < before.FreeBlocks {
		return fmt.Errorf("%d blocks free before, %d after writing and removing the file", before.FreeBlocks, after.FreeBlocks)
	}
	return nil
}

// testManyFiles makes more files in one directory than one ReadDir
// returns, lists them, and removes them.
func testManyFiles(u *suite) error {
	p := u.p
	n := 300
	if u.quick {
		n = 150
	}
	if err := p.Mkdir("d"); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	for i := range n {
		name := fmt.Sprintf("d/file%03d", i)
		if err := p.WriteFile(name, []byte(name)); err != nil {
			return fmt.Errorf("create %s: %w", name, err)
		}
	}
	ents, err := p.ReadDir("d")
	if err != nil {
		return fmt.Errorf("readdir: %w", err)
	}
	seen := map[string]bool{}
	for _, e := range ents {
		if e.Name == "." || e.Name == ".." {
			continue
		}
		if seen[e.Name] {
			return fmt.Errorf("readdir: %s listed twice", e.Name)
		}
		seen[e.Name] = true
	}
	if len(seen) != n {
		return fmt.Errorf("readdir: %d names, want %d", len(seen), n)
	}
	for i := 0; i < n; i += 37 {
		name := fmt.Sprintf("d/file%03d", i)
		if err := u.check(name, []byte(name)); err != nil {
			return err
		}
	}
	err = p.Rmdir("d")
	if err := expect(err, errno.ENOTEMPTY, "rmdir of a full directory"); err != nil {
		return err
	}
	for i := range n {
		name := fmt.Sprintf("d/file%03d", i)
		if err := p.Unlink(name); err != nil {
			return fmt.Errorf("unlink %s: %w", name, err)
		}
	}
	if err := p.Rmdir("d"); err != nil {
		return fmt.Errorf("rmdir of the emptied directory: %w", err)
	}
	return nil
}

// testUnlinkOpen removes a file that is open: it lives on until closed.
func testUnlinkOpen(u *suite) error {
	p := u.p
	data := pattern(0, 100000, 5)
	if err := p.WriteFile("u", data); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	before, err := p.Statfs()
	if err != nil {
		return fmt.Errorf("statfs: %w", err)
	}
	f, err := p.Open("u", idl.ORdWr)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	if err := p.Unlink("u"); err != nil {
		f.Close()
		return fmt.Errorf("unlink: %w", err)
	}
	_, err = p.Stat("u")
	if err := expect(err, errno.ENOENT, "stat after unlink"); err != nil {
		f.Close()
		return err
	}
	st, err := f.Stat()
	if err != nil || st.Nlink != 0 {
		f.Close()
		return fmt.Errorf("fstat after unlink: %+v, %v; want 0 links", st, err)
	}
	got, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(got, data) {
		f.Close()
		return fmt.Errorf("read after unlink: %d bytes, %v", len(got), err)
	}
	if _, err := f.WriteString("more"); err != nil {
		f.Close()
		return fmt.Errorf("write after unlink: %w", err)
	}
	// A new file of the same name is another file.
	if err := p.WriteFile("u", []byte("new")); err != nil {
		f.Close()
		return fmt.Errorf("create again: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if err := u.check("u", []byte("new")); err != nil {
		return err
	}
	if err := p.Unlink("u"); err != nil {
		return fmt.Errorf("unlink: %w", err)
	}
	after, err := p.Statfs()
	if err != nil {
		return fmt.Errorf("statfs: %w", err)
	}
	// The unlinked file's blocks came back at its last close.
	if after.FreeBlocks < before.FreeBlocks+uint64(len(data))/4096 {
		return fmt.Errorf("free blocks: %d with the file, %d after closing it unlinked: its blocks were not freed", before.FreeBlocks, after.FreeBlocks)
	}
	return nil
}
