package flash

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"strings"
)

// probeFile names the file system on the device at path and its label,
// like blkid does for the common ones; "", "" when the device cannot be
// read or holds none of them. It opens the device read-only.
func probeFile(path string) (fstype, label string) {
	f, err := os.Open(path)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	return probe(f)
}

// probeSize is how much of a device probe reads: up to btrfs's
// superblock at 64 KiB.
const probeSize = 64<<10 + 4096

// probe names the file system at the start of r and its label.
func probe(r io.ReaderAt) (fstype, label string) {
	b := make([]byte, probeSize)
	n, _ := r.ReadAt(b, 0)
	b = b[:n]
	at := func(off int, s string) bool {
		return off+len(s) <= len(b) && string(b[off:off+len(s)]) == s
	}
	field := func(off, n int) string {
		if off+n > len(b) {
			return ""
		}
		s := b[off : off+n]
		if i := bytes.IndexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		return strings.TrimSpace(string(s))
	}
	le16 := func(off int) uint16 {
		if off+2 > len(b) {
			return 0
		}
		return binary.LittleEndian.Uint16(b[off:])
	}
	le32 := func(off int) uint32 {
		if off+4 > len(b) {
			return 0
		}
		return binary.LittleEndian.Uint32(b[off:])
	}

	switch {
	case at(32768+1, "CD001"):
		return "iso9660", field(32768+40, 32)
	case le16(1024+56) == 0xef53: // ext2/3/4 superblock at 1 KiB
		compat, incompat := le32(1024+92), le32(1024+96)
		typ := "ext2"
		switch {
		case incompat&(0x40|0x80|0x200) != 0: // extents, 64bit, flex_bg
			typ = "ext4"
		case compat&0x4 != 0: // has_journal
			typ = "ext3"
		}
		return typ, field(1024+120, 16)
	case at(65536+64, "_BHRfS_M"):
		return "btrfs", field(65536+0x12b, 256)
	case at(0, "XFSB"):
		return "xfs", field(108, 12)
	case at(0, "hsqs"):
		return "squashfs", ""
	case at(3, "EXFAT   "):
		return "exfat", ""
	case at(3, "NTFS    "):
		return "ntfs", ""
	case le16(510) == 0xaa55 && at(82, "FAT32   "):
		return "vfat", fatLabel(field(71, 11))
	case le16(510) == 0xaa55 && (at(54, "FAT12   ") || at(54, "FAT16   ") || at(54, "FAT     ")):
		return "vfat", fatLabel(field(43, 11))
	case at(4096-10, "SWAPSPACE2"):
		return "swap", field(1024+28, 16)
	}
	return "", ""
}

// fatLabel hides the placeholder label of unlabeled FAT file systems.
func fatLabel(s string) string {
	if s == "NO NAME" {
		return ""
	}
	return s
}
