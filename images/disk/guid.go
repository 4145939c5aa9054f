package disk

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Every identifier that a disk tool would normally pick at random is
// derived from Spec.Seed instead, so that the same Spec always gives the
// same bytes, while different configurations (different seeds) still get
// different GUIDs and do not confuse firmware or udev when two images are
// attached at once.

// seedHash hashes the seed together with what the value is for, so the
// identifiers derived from one seed are unrelated to each other.
func seedHash(seed, purpose string) [sha256.Size]byte {
	return sha256.Sum256([]byte("rlgo/images/disk\x00" + purpose + "\x00" + seed))
}

// seedGUID returns a GUID in the canonical upper-case text form that
// go-diskfs reads back. It is marked as an RFC 9562 version 8 ("custom")
// UUID: it is neither random nor one of the standard name-based kinds.
func seedGUID(seed, purpose string) string {
	h := seedHash(seed, purpose)
	b := h[:16]
	b[6] = b[6]&0x0f | 0x80 // version 8
	b[8] = b[8]&0x3f | 0x80 // RFC 4122/9562 variant
	return fmt.Sprintf("%08X-%04X-%04X-%04X-%012X", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// seedVolumeID returns the FAT volume serial number.
func seedVolumeID(seed string) uint32 {
	h := seedHash(seed, "fat volume id")
	return binary.LittleEndian.Uint32(h[:4])
}
