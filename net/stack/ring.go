package stack

// A ring is a fixed-capacity byte queue: a connection's send buffer (bytes
// from SND.UNA on) or receive buffer (in-order bytes not yet read, with
// out-of-order bytes written beyond them, see assembler).
type ring struct {
	buf  []byte
	head int // index of the first byte
	n    int // bytes queued
}

func (r *ring) reset(capacity int) {
	if cap(r.buf) < capacity {
		r.buf = make([]byte, capacity)
	}
	r.buf = r.buf[:capacity]
	r.head, r.n = 0, 0
}

func (r *ring) free() int { return len(r.buf) - r.n }

// write appends as much of p as fits and returns how much.
func (r *ring) write(p []byte) int {
	m := min(len(p), r.free())
	r.writeAt(r.n, p[:m])
	r.n += m
	return m
}

// writeAt copies p to offset off from the head, beyond the queued bytes
// or over them; off+len(p) must not exceed the capacity. It does not
// change n.
func (r *ring) writeAt(off int, p []byte) {
	i := r.head + off
	if i >= len(r.buf) {
		i -= len(r.buf)
	}
	c := copy(r.buf[i:], p)
	copy(r.buf, p[c:])
}

// readAt copies queued bytes from offset off into p and returns how many.
func (r *ring) readAt(off int, p []byte) int {
	m := min(len(p), r.n-off)
	if m <= 0 {
		return 0
	}
	i := r.head + off
	if i >= len(r.buf) {
		i -= len(r.buf)
	}
	c := copy(p[:m], r.buf[i:])
	copy(p[c:m], r.buf)
	return m
}

// read consumes up to len(p) bytes into p.
func (r *ring) read(p []byte) int {
	m := r.readAt(0, p)
	r.discard(m)
	return m
}

// discard drops the first m queued bytes.
func (r *ring) discard(m int) {
	r.n -= m
	r.head += m
	if r.head >= len(r.buf) {
		r.head -= len(r.buf)
	}
	// head does not go back to 0 when the ring empties: out-of-order
	// bytes may be waiting beyond it.
}
