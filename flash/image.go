package flash

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/rlgo/redleaf/images/bmap"
	"github.com/rlgo/redleaf/images/manifest"
)

// Compression formats of images, told by their magic numbers.
const (
	Gzip = "gzip"
	Zstd = "zstd"
	XZ   = "xz"
)

// Image is a disk image opened for writing to a device.
type Image struct {
	// Path is the image file.
	Path string
	// Compression is "" for a raw image, or Gzip, Zstd or XZ.
	Compression string
	// Size is the size of the (uncompressed) image in bytes.
	Size int64
	// Map says which blocks of the image hold data; the rest are zeros.
	// Its ranges have SHA-256 checksums when it comes from a bmap file or
	// a scan of a compressed image.
	Map *bmap.Map
	// MapSource says where Map came from: the bmap file's path,
	// "SEEK_DATA/SEEK_HOLE" or "zero blocks".
	MapSource string
	// Manifest is the build the image belongs to, or nil.
	Manifest *manifest.Manifest

	// digest is the SHA-256 the manifest records for the image file,
	// checked while the image is read, or "" when there is none or the
	// checked bmap makes it redundant.
	digest string
	file   *os.File
	dev    uint64 // the file's identity, for the HoldsImage check
	ino    uint64
}

// OpenImage opens a disk image: path is a raw, gzip, zstd or xz image
// file, or an artifacts directory of `rlbuild image` whose manifest names
// the disk image. The block map is the manifest's bmap, or PATH.bmap, or
// the .bmap of PATH without its compression suffix; without one, a raw
// image is mapped with SEEK_DATA/SEEK_HOLE and a compressed one by
// decompressing it once to find its zero blocks. When a manifest
// describes the image, the bmap's and the image's sizes and digests are
// checked against it (the image's while it is written).
func OpenImage(path string) (*Image, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	img := &Image{Path: path}
	var bmapPath string
	if st.IsDir() {
		m, err := manifest.Load(path)
		if err != nil {
			return nil, err
		}
		if m.Disk == "" {
			return nil, fmt.Errorf("build %q in %s has no disk image: enable disk in its config and rebuild", m.Name, path)
		}
		img.Path, img.Manifest, bmapPath = m.Path(m.Disk), m, m.Path(m.Bmap)
	} else if m, err := manifest.Load(filepath.Dir(path)); err == nil && artifact(m, path) != nil {
		img.Manifest = m
		if m.Bmap != "" && m.Path(m.Disk) == filepath.Clean(path) {
			bmapPath = m.Path(m.Bmap)
		}
	}
	if img.file, err = os.Open(img.Path); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			img.file.Close()
		}
	}()
	if img.dev, img.ino, err = fileDevice(img.Path); err != nil {
		return nil, err
	}
	fst, err := img.file.Stat()
	if err != nil {
		return nil, err
	}
	if !fst.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", img.Path)
	}
	if img.Compression, err = sniff(img.file); err != nil {
		return nil, fmt.Errorf("reading %s: %w", img.Path, err)
	}

	bmapTrusted := false // the manifest vouches for the bmap file
	if bmapPath == "" {
		bmapPath = findBmap(img.Path)
	}
	if bmapPath != "" {
		if img.Map, err = bmap.Load(bmapPath); err != nil {
			return nil, err
		}
		img.MapSource = bmapPath
		if a := artifact(img.Manifest, bmapPath); a != nil {
			got, err := manifest.HashFile(bmapPath)
			if err != nil {
				return nil, err
			}
			if got.SHA256 != a.SHA256 {
				return nil, fmt.Errorf("%s: SHA-256 %s, the manifest says %s: the block map changed after the build", bmapPath, got.SHA256, a.SHA256)
			}
			bmapTrusted = img.Map.HasChecksums()
		}
	}
	if a := artifact(img.Manifest, img.Path); a != nil {
		if a.Size != fst.Size() {
			return nil, fmt.Errorf("%s is %d bytes, the manifest says %d: the image changed after the build", img.Path, fst.Size(), a.Size)
		}
		// A raw image's digest covers its holes, which are not read: it
		// is checked only when no checked bmap covers the data.
		if img.Compression != "" || !bmapTrusted {
			img.digest = a.SHA256
		}
	}

	switch {
	case img.Map != nil && img.Compression == "" && img.Map.ImageSize != fst.Size():
		return nil, fmt.Errorf("the block map %s is for a %d-byte image, but %s is %d bytes: it is not this image's bmap", bmapPath, img.Map.ImageSize, img.Path, fst.Size())
	case img.Map != nil:
	case img.Compression == "":
		if img.Map, err = bmap.Scan(img.file); err != nil {
			return nil, err
		}
		img.MapSource = "SEEK_DATA/SEEK_HOLE"
	default:
		// No map of a compressed image: decompress it once to find its
		// size and its data.
		r, err := img.decompress(io.NewSectionReader(img.file, 0, fst.Size()))
		if err != nil {
			return nil, err
		}
		img.Map, err = bmap.FromReader(r, bmap.DefaultBlockSize)
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", img.Path, err)
		}
		img.MapSource = "zero blocks"
	}
	img.Size = img.Map.ImageSize
	ok = true
	return img, nil
}

// Close closes the image file.
func (img *Image) Close() error { return img.file.Close() }

// artifact returns the manifest's record of the file at path, or nil.
func artifact(m *manifest.Manifest, path string) *manifest.Artifact {
	if m == nil {
		return nil
	}
	rel, err := filepath.Rel(m.Dir(), path)
	if err != nil {
		return nil
	}
	rel = filepath.ToSlash(rel)
	for i := range m.Artifacts {
		if m.Artifacts[i].Path == rel {
			return &m.Artifacts[i]
		}
	}
	return nil
}

// findBmap returns the block map next to an image as bmaptool looks for
// it: IMAGE.bmap, or the .bmap of IMAGE without its compression suffix.
func findBmap(image string) string {
	candidates := []string{image + ".bmap"}
	for _, ext := range []string{".gz", ".zst", ".xz"} {
		if base, ok := strings.CutSuffix(image, ext); ok {
			candidates = append(candidates, base+".bmap")
		}
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() {
			return c
		}
	}
	return ""
}

// sniff tells the compression of a file from its first bytes.
func sniff(f *os.File) (string, error) {
	magic := make([]byte, 6)
	n, err := f.ReadAt(magic, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	magic = magic[:n]
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return Gzip, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return Zstd, nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return XZ, nil
	}
	return "", nil
}

// decompress returns a reader of the decompressed image.
func (img *Image) decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	switch img.Compression {
	case Gzip:
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", img.Path, err)
		}
		return z, nil
	case Zstd:
		z, err := zstd.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", img.Path, err)
		}
		return z.IOReadCloser(), nil
	case XZ:
		z, err := xz.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", img.Path, err)
		}
		return io.NopCloser(z), nil
	}
	return io.NopCloser(br), nil
}

// source reads the image for writing, in ascending order of offsets.
// Bytes past the end of the image read as zeros (padding to the
// device's block size).
type source interface {
	readAt(p []byte, off int64) error
	// prefetch returns a function that asks the kernel to read the
	// parts of spans before upTo into the page cache, so that the disk
	// reads ahead of readAt.
	prefetch(spans []Span) (ahead func(upTo int64))
	// finish checks what can only be checked at the end: the image
	// file's digest. It must be called after the last read.
	finish() error
	close()
}

// newSource returns a source over the image.
func (img *Image) newSource() (source, error) {
	var digest hash.Hash
	if img.digest != "" {
		digest = sha256.New()
	}
	if img.Compression == "" {
		return &rawSource{img: img, digest: digest}, nil
	}
	st, err := img.file.Stat()
	if err != nil {
		return nil, err
	}
	s := &streamSource{img: img, file: io.NewSectionReader(img.file, 0, st.Size()), digest: digest}
	var r io.Reader = s.file
	if digest != nil {
		r = io.TeeReader(s.file, digest)
	}
	if s.r, err = img.decompress(r); err != nil {
		return nil, err
	}
	return s, nil
}

// rawSource reads a raw image file. Its digest covers the holes between
// the reads as zeros, which the map says they are.
type rawSource struct {
	img    *Image
	digest hash.Hash
	pos    int64 // bytes of the image fed to digest
}

func (s *rawSource) readAt(p []byte, off int64) error {
	n, err := s.img.file.ReadAt(p, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading %s at byte %d: %w", s.img.Path, off, err)
	}
	clear(p[n:])
	if s.digest != nil {
		if off < s.pos {
			return fmt.Errorf("internal error: image read at %d after %d", off, s.pos)
		}
		feedZeros(s.digest, off-s.pos)
		s.digest.Write(p[:n])
		s.pos = off + int64(n)
	}
	return nil
}

func (s *rawSource) prefetch(spans []Span) func(int64) {
	i, pos := 0, int64(0) // spans[i] is advised up to pos
	return func(upTo int64) {
		for ; i < len(spans) && spans[i].Off < upTo; i++ {
			off := max(spans[i].Off, pos)
			end := min(spans[i].End, upTo, s.img.Size)
			if end > off {
				willNeed(s.img.file, off, end-off)
				pos = end
			}
			if spans[i].End > upTo {
				return // the rest of this span later
			}
		}
	}
}

func (s *rawSource) finish() error {
	if s.digest == nil {
		return nil
	}
	feedZeros(s.digest, s.img.Size-s.pos)
	return s.img.checkDigest(s.digest)
}

func (s *rawSource) close() {}

// streamSource reads a compressed image, decompressing it on the fly.
type streamSource struct {
	img    *Image
	file   *io.SectionReader // the compressed file
	r      io.ReadCloser     // the decompressed image
	digest hash.Hash         // of the compressed file
	pos    int64             // decompressed bytes consumed
	ended  bool
}

func (s *streamSource) readAt(p []byte, off int64) error {
	if off < s.pos {
		return fmt.Errorf("internal error: compressed image read at %d after %d", off, s.pos)
	}
	if off > s.pos && !s.ended {
		n, err := io.CopyN(io.Discard, s.r, off-s.pos)
		s.pos += n
		if errors.Is(err, io.EOF) {
			s.ended = true
		} else if err != nil {
			return fmt.Errorf("decompressing %s at byte %d: %w", s.img.Path, s.pos, err)
		}
	}
	n := 0
	if !s.ended {
		var err error
		n, err = io.ReadFull(s.r, p)
		s.pos += int64(n)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			s.ended = true
		} else if err != nil {
			return fmt.Errorf("decompressing %s at byte %d: %w", s.img.Path, s.pos, err)
		}
	}
	clear(p[n:])
	if s.ended && s.pos < s.img.Size {
		return fmt.Errorf("%s ends after %d bytes, but its block map says the image has %d", s.img.Path, s.pos, s.img.Size)
	}
	return nil
}

// prefetch does nothing: the compressed file is read in order, which
// the kernel reads ahead by itself.
func (s *streamSource) prefetch([]Span) func(int64) { return func(int64) {} }

func (s *streamSource) finish() error {
	if s.digest == nil {
		return nil
	}
	// The rest of the compressed file, which the decompressor has not
	// read, goes into the digest as is: decompressing it (the image's
	// trailing holes) would only cost time.
	if _, err := io.Copy(s.digest, s.file); err != nil {
		return fmt.Errorf("reading %s: %w", s.img.Path, err)
	}
	return s.img.checkDigest(s.digest)
}

func (s *streamSource) close() { s.r.Close() }

func (img *Image) checkDigest(h hash.Hash) error {
	if got := hex.EncodeToString(h.Sum(nil)); got != img.digest {
		return fmt.Errorf("%s has SHA-256 %s, the manifest says %s: the image changed after the build", img.Path, got, img.digest)
	}
	return nil
}

var zeroBlock = make([]byte, 1<<20)

func feedZeros(h hash.Hash, n int64) {
	for n > 0 {
		k := min(n, int64(len(zeroBlock)))
		h.Write(zeroBlock[:k])
		n -= k
	}
}
