package bmap

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// header is bmaptool's text up to the mapped blocks count, byte for byte,
// so that a map of the same image is the same file whichever tool wrote
// it (bmaptools/BmapCreate.py, _BMAP_START_TEMPLATE).
const header = `<?xml version="1.0" ?>
<!-- This file contains the block map for an image file, which is basically
     a list of useful (mapped) block numbers in the image file. In other words,
     it lists only those blocks which contain data (boot sector, partition
     table, file-system metadata, files, directories, extents, etc). These
     blocks have to be copied to the target device. The other blocks do not
     contain any useful data and do not have to be copied to the target
     device.

     The block map an optimization which allows to copy or flash the image to
     the image quicker than copying of flashing the entire image. This is
     because with bmap less data is copied: <MappedBlocksCount> blocks instead
     of <BlocksCount> blocks.

     Besides the machine-readable data, this file contains useful commentaries
     which contain human-readable information like image size, percentage of
     mapped data, etc.

     The 'version' attribute is the block map file format version in the
     'major.minor' format. The version major number is increased whenever an
     incompatible block map format change is made. The minor number changes
     in case of minor backward-compatible changes. -->

<bmap version="%s">
    <!-- Image size in bytes: %s -->
    <ImageSize> %d </ImageSize>

    <!-- Size of a block in bytes -->
    <BlockSize> %d </BlockSize>

    <!-- Count of blocks in the image file -->
    <BlocksCount> %d </BlocksCount>

`

// Marshal returns the map in bmaptool's format, version 2.0, with its
// BmapFileChecksum. Every range must have a checksum (see Checksum).
func (m *Map) Marshal() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if m.ImageSize == 0 {
		return nil, errEmpty
	}
	if !m.HasChecksums() {
		return nil, fmt.Errorf("bmap: the map has ranges without checksums: call Checksum first")
	}
	var b bytes.Buffer
	blocks := m.BlocksCount()
	mapped := m.MappedBlocks()
	imageHuman := humanSize(m.ImageSize)
	fmt.Fprintf(&b, header, Version, imageHuman, m.ImageSize, m.BlockSize, blocks)

	// bmaptool writes blank placeholders for the counts, then overwrites
	// their beginnings; the blanks that are left over stay.
	b.WriteString("    <!-- Count of mapped blocks: ")
	placeholder := strings.Repeat(" ", len(imageHuman)) + " or " + strings.Repeat(" ", len("100.0%"))
	percent := float64(mapped) * 100 / float64(blocks)
	b.WriteString(overwrite(placeholder, fmt.Sprintf("%s or %.1f%%", humanSize(mapped*m.BlockSize), percent)))
	b.WriteString("   -->\n    <MappedBlocksCount> ")
	b.WriteString(overwrite(strings.Repeat(" ", len(strconv.FormatInt(blocks, 10))), strconv.FormatInt(mapped, 10)))
	b.WriteString(" </MappedBlocksCount>\n\n")

	b.WriteString("    <!-- Type of checksum used in this file -->\n")
	b.WriteString("    <ChecksumType> " + ChecksumSHA256 + " </ChecksumType>\n\n")
	b.WriteString("    <!-- The checksum of this bmap file. When it is calculated, the value of\n")
	b.WriteString("         the checksum has be zero (all ASCII \"0\" symbols).  -->\n")
	b.WriteString("    <BmapFileChecksum> ")
	sumAt := b.Len()
	b.WriteString(strings.Repeat("0", 2*sha256.Size) + " </BmapFileChecksum>\n\n")
	b.WriteString("    <!-- The block map which consists of elements which may either be a\n")
	b.WriteString("         range of blocks or a single block. The 'chksum' attribute\n")
	b.WriteString("         (if present) is the checksum of this blocks range. -->\n")
	b.WriteString("    <BlockMap>\n")
	for _, r := range m.Ranges {
		if r.First == r.Last {
			fmt.Fprintf(&b, "        <Range chksum=\"%s\"> %d </Range>\n", r.SHA256, r.First)
		} else {
			fmt.Fprintf(&b, "        <Range chksum=\"%s\"> %d-%d </Range>\n", r.SHA256, r.First, r.Last)
		}
	}
	b.WriteString("    </BlockMap>\n</bmap>\n")

	out := b.Bytes()
	sum := sha256.Sum256(out)
	copy(out[sumAt:], hex.EncodeToString(sum[:]))
	return out, nil
}

// overwrite returns s with its beginning replaced by w, as bmaptool's
// seek-and-write does; w may be longer than s.
func overwrite(s, w string) string {
	if len(w) >= len(s) {
		return w
	}
	return w + s[len(w):]
}

// humanSize formats a size as bmaptool's human_size does.
func humanSize(n int64) string {
	if n == 1 {
		return "1 byte"
	}
	if n < 512 {
		return fmt.Sprintf("%d bytes", n)
	}
	size := float64(n)
	for _, unit := range []string{"KiB", "MiB", "GiB", "TiB"} {
		size /= 1024
		if size < 1024 {
			return fmt.Sprintf("%.1f %s", size, unit)
		}
	}
	return fmt.Sprintf("%.1f EiB", size)
}

// WriteFile stores the map at path in bmaptool's format, atomically.
func (m *Map) WriteFile(path string) error {
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("bmap: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("bmap: writing %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("bmap: writing %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}

// xmlMap is the parsed XML. Numbers are text with blanks around them.
type xmlMap struct {
	XMLName           xml.Name `xml:"bmap"`
	Version           string   `xml:"version,attr"`
	ImageSize         string   `xml:"ImageSize"`
	BlockSize         string   `xml:"BlockSize"`
	BlocksCount       string   `xml:"BlocksCount"`
	MappedBlocksCount string   `xml:"MappedBlocksCount"`
	ChecksumType      string   `xml:"ChecksumType"`
	BmapFileChecksum  string   `xml:"BmapFileChecksum"`
	Ranges            []struct {
		Chksum string `xml:"chksum,attr"`
		Text   string `xml:",chardata"`
	} `xml:"BlockMap>Range"`
}

// Parse reads a block map in bmaptool's format, versions 1.4 and 2.x
// with SHA-256 checksums (or none on the ranges). It checks the file's
// own checksum, the counts and the ranges.
func Parse(data []byte) (*Map, error) {
	var x xmlMap
	if err := xml.Unmarshal(data, &x); err != nil {
		return nil, fmt.Errorf("bmap: not a block map: %v", err)
	}
	major, minor, ok := parseVersion(x.Version)
	switch {
	case !ok:
		return nil, fmt.Errorf("bmap: bad format version %q", x.Version)
	case major > 2:
		return nil, fmt.Errorf("bmap: format version %s is newer than this reader (it reads up to %s)", x.Version, Version)
	case major < 2 && !(major == 1 && minor == 4):
		return nil, fmt.Errorf("bmap: format version %s has SHA-1 checksums or none; only versions 1.4 and 2.x (SHA-256) are read: recreate it with a current bmaptool", x.Version)
	}
	if typ := strings.TrimSpace(x.ChecksumType); typ != ChecksumSHA256 {
		return nil, fmt.Errorf("bmap: checksum type %q is not supported, only %s: recreate the map with `bmaptool create -c sha256`", typ, ChecksumSHA256)
	}
	if err := checkFileChecksum(data, strings.TrimSpace(x.BmapFileChecksum)); err != nil {
		return nil, err
	}
	m := &Map{}
	var blocks, mapped int64
	for _, f := range []struct {
		name string
		text string
		dst  *int64
	}{
		{"ImageSize", x.ImageSize, &m.ImageSize},
		{"BlockSize", x.BlockSize, &m.BlockSize},
		{"BlocksCount", x.BlocksCount, &blocks},
		{"MappedBlocksCount", x.MappedBlocksCount, &mapped},
	} {
		n, err := strconv.ParseInt(strings.TrimSpace(f.text), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bmap: %s %q is not a number", f.name, strings.TrimSpace(f.text))
		}
		*f.dst = n
	}
	for _, xr := range x.Ranges {
		r, err := parseRange(xr.Text)
		if err != nil {
			return nil, err
		}
		r.SHA256 = strings.ToLower(strings.TrimSpace(xr.Chksum))
		m.Ranges = append(m.Ranges, r)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if blocks != m.BlocksCount() {
		return nil, fmt.Errorf("bmap: BlocksCount is %d, but %d bytes are %d blocks of %d bytes", blocks, m.ImageSize, m.BlocksCount(), m.BlockSize)
	}
	if mapped != m.MappedBlocks() {
		return nil, fmt.Errorf("bmap: MappedBlocksCount is %d, but the ranges hold %d blocks", mapped, m.MappedBlocks())
	}
	return m, nil
}

// Load reads the block map file at path.
func Load(path string) (*Map, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// checkFileChecksum checks the BmapFileChecksum: the SHA-256 of the file
// with the checksum's digits replaced by zeros.
func checkFileChecksum(data []byte, want string) error {
	if len(want) != 2*sha256.Size {
		return fmt.Errorf("bmap: BmapFileChecksum %q is not a SHA-256", want)
	}
	i := bytes.Index(data, []byte(want))
	if i < 0 {
		return fmt.Errorf("bmap: BmapFileChecksum not found")
	}
	zeroed := bytes.Clone(data)
	copy(zeroed[i:], strings.Repeat("0", len(want)))
	sum := sha256.Sum256(zeroed)
	if got := hex.EncodeToString(sum[:]); got != strings.ToLower(want) {
		return fmt.Errorf("bmap: the file's checksum is %s, BmapFileChecksum says %s: the file is damaged or was edited", got, want)
	}
	return nil
}

func parseVersion(v string) (major, minor int, ok bool) {
	a, b, found := strings.Cut(strings.TrimSpace(v), ".")
	if !found {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(a)
	minor, err2 := strconv.Atoi(b)
	return major, minor, err1 == nil && err2 == nil
}

// parseRange reads "first-last" or "block".
func parseRange(s string) (Range, error) {
	a, b, isRange := strings.Cut(strings.TrimSpace(s), "-")
	first, err := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	if err != nil || first < 0 {
		return Range{}, fmt.Errorf("bmap: bad range %q", strings.TrimSpace(s))
	}
	last := first
	if isRange {
		last, err = strconv.ParseInt(strings.TrimSpace(b), 10, 64)
		if err != nil {
			return Range{}, fmt.Errorf("bmap: bad range %q", strings.TrimSpace(s))
		}
	}
	return Range{First: first, Last: last}, nil
}
