package system

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
)

// Memory is the storage of a RAM disk: a kernel object, granted to the
// RAM-disk driver as a device (it implements ramdisk.Memory). It belongs to
// the kernel, not to the driver, so its contents outlive every instance of
// the driver, as a disk's contents outlive a crash of its driver. It has no
// Reset method on purpose: the kernel resets a dead domain's devices, and
// this one must keep its contents.
//
// It is safe for concurrent use: a thread of a dead driver instance may
// still be in it while the next instance serves calls.
type Memory struct {
	mu sync.RWMutex
	b  []byte // guarded by mu
}

// NewMemory returns size bytes of zeroed memory. (The pages are the Go
// heap's: Linux backs them only once they are written.)
func NewMemory(size int64) (*Memory, error) {
	if size <= 0 {
		return nil, fmt.Errorf("system: memory size %d", size)
	}
	return &Memory{b: make([]byte, size)}, nil
}

// loadChunk is the size of the reads LoadMemory fills memory with.
const loadChunk = 64 << 10

// LoadMemory returns memory of the size of the file at path holding its
// bytes; an error wrapping fs.ErrNotExist if there is no such file (or
// path is ""). It reads the file in chunks and copies only the chunks that
// are not all zeroes, so a mostly empty file system image costs the memory
// of its used blocks only.
func LoadMemory(path string) (*Memory, error) {
	if path == "" {
		return nil, fmt.Errorf("system: no memory image: %w", fs.ErrNotExist)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("system: memory image: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("system: memory image: %w", err)
	}
	if !st.Mode().IsRegular() || st.Size() <= 0 {
		return nil, fmt.Errorf("system: memory image %s is not a non-empty regular file", path)
	}
	m, err := NewMemory(st.Size())
	if err != nil {
		return nil, err
	}
	buf := make([]byte, loadChunk)
	for off := int64(0); off < st.Size(); {
		n, err := io.ReadFull(f, buf[:min(int64(len(buf)), st.Size()-off)])
		if err != nil {
			return nil, fmt.Errorf("system: reading memory image %s at %d: %w", path, off, err)
		}
		if !allZero(buf[:n]) {
			copy(m.b[off:], buf[:n])
		}
		off += int64(n)
	}
	return m, nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// Size is the memory's size in bytes.
func (m *Memory) Size() int64 { return int64(len(m.b)) }

// ReadAt reads len(p) bytes at off, as io.ReaderAt does.
func (m *Memory) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("system: memory: read at negative offset %d", off)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if off >= int64(len(m.b)) {
		return 0, io.EOF
	}
	n := copy(p, m.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt writes p at off, as io.WriterAt does; a write past the end is
// short and fails.
func (m *Memory) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("system: memory: write at negative offset %d", off)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if off >= int64(len(m.b)) {
		return 0, io.ErrShortWrite
	}
	n := copy(m.b[off:], p)
	if n < len(p) {
		return n, io.ErrShortWrite
	}
	return n, nil
}
