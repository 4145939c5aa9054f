package flash

import (
	"encoding/hex"
	"fmt"

	"github.com/rlgo/redleaf/images/bmap"
)

const (
	// headSize is the start of the device that is written last: the
	// protective MBR or MBR with its boot code, the GPT header and
	// entries, and the gap before the first partition. Until it is
	// written the device does not look like the image to firmware.
	headSize = 1 << 20
	// align is the alignment of every write: the largest logical block
	// size of disks, so that O_DIRECT accepts it everywhere.
	align = 4096
	// fillGap is the largest hole between mapped ranges that is written
	// as zeros within one write rather than skipped: one longer
	// sequential write costs less than two, and the blocks around small
	// holes (file system metadata) come out exactly as in the image.
	fillGap = 1 << 20
)

// PlanOptions tune a Plan.
type PlanOptions struct {
	// Force allows writing a disk that is not removable. It must name
	// the same device as the target (any path to it); it overrides no
	// other check.
	Force string
	// ZeroUnmapped makes every unmapped block of the image read as zero
	// on the device afterwards, like after dd. By default large unmapped
	// areas are zeroed by unmapping (or discarded) only when the device
	// can do so without writing them, and left as they were otherwise,
	// as bmaptool does: an image with a block map must not depend on
	// what its unmapped blocks hold. With ZeroUnmapped a device that
	// cannot zero them cheaply has them written with zeros.
	ZeroUnmapped bool
}

// Plan is a checked decision to write an image to a device.
type Plan struct {
	Image  *Image
	Device *Device
	// Extents are the byte ranges written in order, before the head.
	Extents []Span
	// Head is the first MiB of the device (less for smaller images),
	// written last from the image, holes included.
	Head Span
	// Holes are the unmapped areas of the image that are not written;
	// they are zeroed or discarded where the device supports it.
	Holes        []Span
	ZeroUnmapped bool

	end    int64   // bytes of the device the image covers
	pieces []piece // checksummed runs of bytes in Head and Extents
	host   Host    // where the checks looked, to run them again on the opened device
	target target  // what the checks knew of the image
}

// A ForceError is a --force that names another device than the one to
// be written: a typo there must not be taken as consent for any disk.
type ForceError struct {
	Device, Force string
}

func (e *ForceError) Error() string {
	return fmt.Sprintf("--force %s does not name the device to be written, %s: name the same disk in both (or leave --force out for removable media)", e.Force, e.Device)
}

// Span is a range of bytes [Off, End).
type Span struct{ Off, End int64 }

// Len returns the number of bytes of the span.
func (s Span) Len() int64 { return s.End - s.Off }

// Plan checks that img may be written to the device at path (see Lookup)
// and returns the plan; the device is not opened for writing. Refusals
// are *RefusedErrors, joined when there are several (see Refused).
func (h Host) Plan(img *Image, path string, o PlanOptions) (*Plan, error) {
	d, err := h.Lookup(path)
	if err != nil {
		return nil, err
	}
	env, err := h.environment()
	if err != nil {
		return nil, err
	}
	t := target{size: img.Size, file: img.Path, dev: img.dev, ino: img.ino, devs: h.below(img.dev, env.mounts)}
	if o.Force != "" {
		fd, err := h.Lookup(o.Force)
		if err != nil || fd.Dev != d.Dev {
			return nil, &ForceError{Device: path, Force: o.Force}
		}
		t.forced = true
	}
	if err := check(d, t); err != nil {
		return nil, err
	}
	p := &Plan{Image: img, Device: d, ZeroUnmapped: o.ZeroUnmapped, host: h, target: t}
	p.layout()
	return p, nil
}

// layout decides the writes: the map's ranges widened to align, with
// holes up to fillGap between them filled, the head cut off.
func (p *Plan) layout() {
	m := p.Image.Map
	lbs := max(p.Device.LogicalBlockSize, 512)
	p.end = roundUp(p.Image.Size, lbs)
	p.Head = Span{0, min(headSize, p.end)}

	var spans []Span
	for _, r := range m.Ranges {
		off, end := m.Span(r)
		s := Span{roundDown(off, align), min(roundUp(end, align), p.end)}
		if n := len(spans); n > 0 && s.Off-spans[n-1].End <= fillGap {
			spans[n-1].End = max(spans[n-1].End, s.End)
			continue
		}
		spans = append(spans, s)
	}
	pos := p.Head.End
	for _, s := range spans {
		if s.End <= p.Head.End {
			continue
		}
		s.Off = max(s.Off, p.Head.End)
		if s.Off > pos {
			p.Holes = append(p.Holes, Span{pos, s.Off})
		}
		p.Extents = append(p.Extents, s)
		pos = s.End
	}
	if pos < p.end {
		p.Holes = append(p.Holes, Span{pos, p.end})
	}
	p.pieces = pieces(m, append([]Span{p.Head}, p.Extents...))
}

// WriteBytes returns how many bytes Write writes (head included).
func (p *Plan) WriteBytes() int64 {
	n := p.Head.Len()
	for _, e := range p.Extents {
		n += e.Len()
	}
	return n
}

// HoleBytes returns the bytes of the image's holes that are not written.
func (p *Plan) HoleBytes() int64 {
	var n int64
	for _, h := range p.Holes {
		n += h.Len()
	}
	return n
}

// piece is a run of written bytes with a checksum: a range of the map,
// or a filler (holes within a write, padding past the image's end).
type piece struct {
	Span
	rng  *bmap.Range // nil for fillers
	want []byte      // SHA-256 the bytes must have: the map's, or the image's once read
}

// pieces cuts the covered spans (ascending, disjoint) into the map's
// ranges and fillers. Every range lies within the covered spans.
func pieces(m *bmap.Map, covered []Span) []piece {
	var out []piece
	filler := func(off, end int64) {
		if end > off {
			out = append(out, piece{Span: Span{off, end}})
		}
	}
	ri := 0
	pos := int64(0) // end of the last piece
	for _, c := range covered {
		pos = max(pos, c.Off)
		for ; ri < len(m.Ranges); ri++ {
			off, end := m.Span(m.Ranges[ri])
			if off >= c.End {
				break
			}
			filler(pos, off)
			r := m.Ranges[ri]
			pc := piece{Span: Span{off, end}, rng: &r}
			if r.SHA256 != "" {
				pc.want, _ = hex.DecodeString(r.SHA256) // valid: bmap.Validate checked it
			}
			out = append(out, pc)
			pos = end
		}
		filler(pos, c.End)
	}
	return out
}

// describe names a piece for messages.
func (p *Plan) describe(pc *piece) string {
	if pc.rng != nil {
		return "bmap " + p.Image.Map.Describe(*pc.rng)
	}
	return fmt.Sprintf("bytes %d-%d (unmapped, written as zeros)", pc.Off, pc.End-1)
}

func roundUp(n, to int64) int64   { return (n + to - 1) / to * to }
func roundDown(n, to int64) int64 { return n / to * to }
