package layout

import (
	"encoding/binary"
	"strings"

	"github.com/rlgo/redleaf/rv6/fs/errno"
)

// A Dirent is a directory entry: a name for inode Inum. On disk:
// inum (4 bytes; 0 = free slot), type (1), name length (1), name (NameMax,
// zero-padded).
type Dirent struct {
	Inum uint32
	Type FileType // the type of the inode, so listings need not read it
	Name string
}

// Encode writes e into dst[:DirentSize]. A zero Inum encodes a free slot.
func (e *Dirent) Encode(dst []byte) {
	dst = dst[:DirentSize]
	clear(dst)
	if e.Inum == 0 {
		return
	}
	binary.LittleEndian.PutUint32(dst[0:], e.Inum)
	dst[4] = byte(e.Type)
	dst[5] = byte(len(e.Name))
	copy(dst[6:], e.Name)
}

// DecodeDirent decodes and validates the entry in src[:DirentSize]. A free
// slot decodes as a Dirent with Inum 0.
func DecodeDirent(src []byte) (Dirent, error) {
	if len(src) < DirentSize {
		return Dirent{}, errno.Corrupt("dirent: %d bytes, want %d", len(src), DirentSize)
	}
	inum := binary.LittleEndian.Uint32(src[0:])
	if inum == 0 {
		return Dirent{}, nil
	}
	t, n := FileType(src[4]), int(src[5])
	if t != TypeDir && t != TypeFile {
		return Dirent{}, errno.Corrupt("dirent for inode %d: bad type %d", inum, t)
	}
	if n == 0 || n > NameMax {
		return Dirent{}, errno.Corrupt("dirent for inode %d: name length %d outside 1..%d", inum, n, NameMax)
	}
	name := string(src[6 : 6+n])
	if strings.ContainsAny(name, "/\x00") {
		return Dirent{}, errno.Corrupt("dirent for inode %d: name %q contains '/' or NUL", inum, name)
	}
	return Dirent{Inum: inum, Type: t, Name: name}, nil
}

// CheckName says whether name can name a directory entry: errno.EINVAL if
// it is empty or contains '/' or NUL, errno.ENAMETOOLONG if it is longer
// than NameMax bytes. "." and ".." pass: they are names, if reserved ones.
func CheckName(name string) error {
	switch {
	case name == "" || strings.ContainsAny(name, "/\x00"):
		return errno.EINVAL
	case len(name) > NameMax:
		return errno.ENAMETOOLONG
	}
	return nil
}
