package bmap

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sparseImage writes a sparse file of size bytes with random data at the
// given byte extents and returns its path and contents.
func sparseImage(t *testing.T, size int64, extents ...[2]int64) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, size)
	rng := rand.New(rand.NewPCG(uint64(size), 1))
	for _, e := range extents {
		for i := e[0]; i < e[1]; i++ {
			want[i] = byte(rng.Uint32()) | 1 // never zero, so no block reads as a hole
		}
		if _, err := f.WriteAt(want[e[0]:e[1]], e[0]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	return path, want
}

// testExtents has data at the start, a lone block, an extent crossing a
// MiB boundary and data in a partial last block.
var (
	testSize    = int64(8<<20 + 3*512)
	testExtents = [][2]int64{{0, 5 * 4096}, {1 << 20, 1<<20 + 4096}, {3<<20 - 8192, 3<<20 + 12288}, {8 << 20, 8<<20 + 3*512}}
	testRanges  = []Range{{First: 0, Last: 4}, {First: 256, Last: 256}, {First: 766, Last: 770}, {First: 2048, Last: 2048}}
)

func TestCreateScansAndChecksums(t *testing.T) {
	img, data := sparseImage(t, testSize, testExtents...)
	out := img + ".bmap"
	m, err := Create(img, out)
	if err != nil {
		t.Fatal(err)
	}
	if m.ImageSize != testSize || m.BlockSize != 4096 || m.BlocksCount() != 2049 {
		t.Errorf("size %d, block size %d, %d blocks", m.ImageSize, m.BlockSize, m.BlocksCount())
	}
	var got []Range
	for _, r := range m.Ranges {
		got = append(got, Range{First: r.First, Last: r.Last})
		off, end := m.Span(r)
		sum := sha256.Sum256(data[off:end])
		if r.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: checksum %s, want %x", m.Describe(r), r.SHA256, sum)
		}
	}
	if !reflect.DeepEqual(got, testRanges) {
		t.Errorf("ranges %v, want %v", got, testRanges)
	}
	if want := int64(5+1+5)*4096 + 3*512; m.MappedBytes() != want {
		t.Errorf("MappedBytes() = %d, want %d", m.MappedBytes(), want)
	}

	loaded, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, m) {
		t.Errorf("Load(Create()) = %+v, want %+v", loaded, m)
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := loaded.Verify(f); err != nil {
		t.Error(err)
	}
}

// TestSameAsBmaptool checks that our map of an image is bmaptool's, byte
// for byte, and that each reads the other's.
func TestSameAsBmaptool(t *testing.T) {
	bmaptool, err := exec.LookPath("bmaptool")
	if err != nil {
		t.Skip("bmaptool not installed (Debian bmap-tools)")
	}
	img, data := sparseImage(t, testSize, testExtents...)
	theirs := filepath.Join(t.TempDir(), "theirs.bmap")
	if out, err := exec.Command(bmaptool, "create", "-o", theirs, img).CombinedOutput(); err != nil {
		t.Fatalf("bmaptool create: %v\n%s", err, out)
	}
	ours := img + ".bmap"
	if _, err := Create(img, ours); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(theirs)
	b, _ := os.ReadFile(ours)
	if !bytes.Equal(a, b) {
		t.Errorf("bmaptool's map differs from ours:\n--- bmaptool\n%s\n--- ours\n%s", a, b)
	}
	if _, err := Load(theirs); err != nil {
		t.Errorf("reading bmaptool's map: %v", err)
	}

	// bmaptool copies the image with our map, checking our checksums.
	dst := filepath.Join(t.TempDir(), "copy.img")
	if out, err := exec.Command(bmaptool, "copy", "--bmap", ours, img, dst).CombinedOutput(); err != nil {
		t.Fatalf("bmaptool copy with our bmap: %v\n%s", err, out)
	}
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Error("bmaptool's copy with our bmap differs from the image")
	}
}

func TestMarshalFormat(t *testing.T) {
	m := &Map{ImageSize: 136314880, BlockSize: 4096, Ranges: []Range{
		{First: 0, Last: 4, SHA256: strings.Repeat("ab", 32)},
		{First: 256, Last: 256, SHA256: strings.Repeat("cd", 32)},
	}}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<bmap version="2.0">`,
		"    <!-- Image size in bytes: 130.0 MiB -->\n    <ImageSize> 136314880 </ImageSize>\n",
		"    <BlocksCount> 33280 </BlocksCount>\n",
		// bmaptool leaves the blanks of its placeholders behind.
		"    <!-- Count of mapped blocks: 24.0 KiB or 0.0%      -->\n",
		"    <MappedBlocksCount> 6     </MappedBlocksCount>\n",
		"    <ChecksumType> sha256 </ChecksumType>\n",
		`        <Range chksum="` + strings.Repeat("ab", 32) + `"> 0-4 </Range>` + "\n",
		`        <Range chksum="` + strings.Repeat("cd", 32) + `"> 256 </Range>` + "\n",
	} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("bmap lacks %q:\n%s", want, b)
		}
	}
	if _, err := Parse(b); err != nil {
		t.Error(err)
	}
	if _, err := (&Map{ImageSize: 4096, BlockSize: 4096, Ranges: []Range{{First: 0, Last: 0}}}).Marshal(); err == nil {
		t.Error("Marshal of a map without checksums succeeded")
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{
		1: "1 byte", 511: "511 bytes", 512: "0.5 KiB", 1 << 20: "1.0 MiB",
		136314880: "130.0 MiB", 2 << 30: "2.0 GiB", 5 << 40: "5.0 TiB", 3 << 50: "3072.0 EiB", // sic: bmaptool labels TiB as EiB past 1024 TiB
	} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	m := &Map{ImageSize: 1 << 20, BlockSize: 4096, Ranges: []Range{
		{First: 0, Last: 4, SHA256: strings.Repeat("ab", 32)},
		{First: 10, Last: 20, SHA256: strings.Repeat("cd", 32)},
	}}
	good, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// resum recomputes the file checksum after an edit, so that the edit
	// itself is what Parse rejects.
	resum := func(b []byte) []byte {
		x := string(b)
		i := strings.Index(x, "<BmapFileChecksum> ") + len("<BmapFileChecksum> ")
		zero := x[:i] + strings.Repeat("0", 64) + x[i+64:]
		sum := sha256.Sum256([]byte(zero))
		return []byte(x[:i] + hex.EncodeToString(sum[:]) + x[i+64:])
	}
	edit := func(old, new string) []byte {
		return []byte(strings.Replace(string(good), old, new, 1))
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"edited without new checksum", edit("> 10-20 <", "> 10-21 <"), "damaged or was edited"},
		{"newer version", resum(edit(`version="2.0"`, `version="3.0"`)), "newer than this reader"},
		{"sha1 version", resum(edit(`version="2.0"`, `version="1.3"`)), "SHA-1"},
		{"sha512", resum(edit("<ChecksumType> sha256", "<ChecksumType> sha512")), "not supported"},
		{"overlap", resum(edit("> 10-20 <", "> 3-20 <")), "overlaps"},
		{"beyond image", resum(edit("> 10-20 <", "> 10-256 <")), "beyond"},
		{"backwards", resum(edit("> 10-20 <", "> 20-10 <")), "ends before"},
		{"mapped count", resum(edit("<MappedBlocksCount> 16 ", "<MappedBlocksCount> 17 ")), "MappedBlocksCount"},
		{"blocks count", resum(edit("<BlocksCount> 256 ", "<BlocksCount> 255 ")), "BlocksCount"},
		{"not xml", []byte("hello"), "not a block map"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse() error = %v, want one containing %q", err, tc.want)
			}
		})
	}
	// Touching ranges, which other tools may write, are fine.
	if _, err := Parse(resum(edit("> 10-20 <", "> 5-20 <"))); err != nil && !strings.Contains(err.Error(), "MappedBlocksCount") {
		t.Errorf("touching ranges: %v", err)
	}
}

func TestVerifyNamesTheRange(t *testing.T) {
	img, _ := sparseImage(t, testSize, testExtents...)
	m, err := Create(img, img+".bmap")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte{0}, 3<<20); err != nil {
		t.Fatal(err)
	}
	err = m.Verify(f)
	var me *MismatchError
	if !errors.As(err, &me) || me.Range.First != 766 || !strings.Contains(err.Error(), "blocks 766-770") {
		t.Errorf("Verify() = %v, want a mismatch in blocks 766-770", err)
	}
}

func TestFromReader(t *testing.T) {
	data := make([]byte, 5*4096+100)
	copy(data[4096:], "x")      // block 1
	copy(data[2*4096+5:], "y")  // block 2, touching block 1
	copy(data[5*4096+99:], "z") // partial last block
	m, err := FromReader(bytes.NewReader(data), 4096)
	if err != nil {
		t.Fatal(err)
	}
	if m.ImageSize != int64(len(data)) || len(m.Ranges) != 2 {
		t.Fatalf("map %+v", m)
	}
	if r := m.Ranges[0]; r.First != 1 || r.Last != 2 {
		t.Errorf("first range %d-%d, want 1-2", r.First, r.Last)
	}
	if r := m.Ranges[1]; r.First != 5 || r.Last != 5 {
		t.Errorf("second range %d-%d, want 5-5", r.First, r.Last)
	}
	if err := m.Verify(bytes.NewReader(data)); err != nil {
		t.Error(err)
	}
	if _, err := FromReader(bytes.NewReader(nil), 4096); err == nil {
		t.Error("FromReader of an empty stream succeeded")
	}
}
