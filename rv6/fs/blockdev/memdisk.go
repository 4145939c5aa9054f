package blockdev

import "sync"

// chunkBlocks is how many blocks a MemDisk allocates at once. Chunks are
// allocated on the first write of a non-zero block into them, so a large
// MemDisk that is mostly empty (a 16 GiB file system in a test) costs only
// the memory of what was written.
const chunkBlocks = 64

type chunk [chunkBlocks]Block

// A MemDisk is a RAM disk: a Device in memory. Blocks never written read as
// zeros. Flush has nothing to do: the contents live as long as the MemDisk.
// The zero value is not usable; use NewMemDisk.
type MemDisk struct {
	n      uint64
	mu     sync.RWMutex // guards chunks (the slice and the chunks' contents)
	chunks []*chunk
}

// NewMemDisk returns a zeroed RAM disk of n blocks.
func NewMemDisk(n uint64) *MemDisk {
	return &MemDisk{n: n, chunks: make([]*chunk, (n+chunkBlocks-1)/chunkBlocks)}
}

// NumBlocks is the size of the disk in blocks.
func (d *MemDisk) NumBlocks() uint64 { return d.n }

// Read copies the requested blocks out.
func (d *MemDisk) Read(reqs []Req) error {
	if err := CheckRange(reqs, d.n); err != nil {
		return err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, r := range reqs {
		if c := d.chunks[r.LBA/chunkBlocks]; c != nil {
			*r.Data = c[r.LBA%chunkBlocks]
		} else {
			*r.Data = Block{}
		}
	}
	return nil
}

// Write copies the requested blocks in.
func (d *MemDisk) Write(reqs []Req) error {
	if err := CheckRange(reqs, d.n); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range reqs {
		c := d.chunks[r.LBA/chunkBlocks]
		if c == nil {
			if IsZero(r.Data) {
				continue // reads as zero already
			}
			c = new(chunk)
			d.chunks[r.LBA/chunkBlocks] = c
		}
		c[r.LBA%chunkBlocks] = *r.Data
	}
	return nil
}

// Flush does nothing: memory is as durable as a RAM disk gets.
func (d *MemDisk) Flush() error { return nil }

// Clone returns a copy of the disk.
func (d *MemDisk) Clone() *MemDisk {
	d.mu.RLock()
	defer d.mu.RUnlock()
	c := &MemDisk{n: d.n, chunks: make([]*chunk, len(d.chunks))}
	for i, ch := range d.chunks {
		if ch != nil {
			cp := *ch
			c.chunks[i] = &cp
		}
	}
	return c
}

// Resident returns the bytes of memory holding blocks.
func (d *MemDisk) Resident() int64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var n int64
	for _, ch := range d.chunks {
		if ch != nil {
			n += chunkBlocks * BlockSize
		}
	}
	return n
}

// IsZero reports whether b is all zeros.
func IsZero(b *Block) bool { return *b == Block{} }
