package disk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"
)

// fixFAT finishes the FAT32 file system that go-diskfs and syslinux
// wrote, working on the raw bytes. It fixes what go-diskfs v1.9.4 gets
// wrong or leaves to chance:
//
//   - '..' in a directory directly under the root points at the root's
//     cluster (2); FAT wants 0 there and fsck.fat reports it;
//   - timestamps come from the clock (or SOURCE_DATE_EPOCH, which is
//     process-wide); mtools, run by syslinux, also stamps its files and
//     leaves a deleted entry with the time in the root; every entry gets
//     t instead and deleted ones are wiped;
//   - the volume id is 0 with Reproducible set; it gets volumeID;
//   - the hidden-sectors field is 0; it gets the partition's first LBA,
//     as mkfs.fat would write it, for boot code that reads it;
//   - FSInfo's free-cluster count is "unknown"; it gets the real count;
//   - the FAT can be two entries short of the cluster count; the file
//     system is shrunk by those two clusters;
//   - syslinux writes its boot code into the boot sector only; the
//     backup boot sector becomes a copy again, as fsck.fat wants.
//
// It is idempotent: Build runs it before syslinux, so that mtools sees a
// sound file system, and after, to redo what mtools changed.
func fixFAT(r region, t time.Time, volumeID, hiddenSectors uint32) error {
	v, err := readVolume(r)
	if err != nil {
		return err
	}
	date, tod, centis := dosTime(t)
	if err := v.fixDir(v.rootCluster, 0, true, date, tod, centis, map[uint32]bool{}); err != nil {
		return err
	}
	if err := v.fixBootSectors(volumeID, hiddenSectors); err != nil {
		return err
	}
	return v.fixFSInfo()
}

// region is the part of a file that holds the file system.
type region struct {
	f   *os.File
	off int64
}

func (r region) ReadAt(b []byte, off int64) (int, error)  { return r.f.ReadAt(b, r.off+off) }
func (r region) WriteAt(b []byte, off int64) (int, error) { return r.f.WriteAt(b, r.off+off) }

// volume is the geometry of a FAT32 file system and its first FAT.
type volume struct {
	r               region
	bytesPerSector  int64
	bytesPerCluster int64
	fsInfoSector    int64
	backupBoot      int64
	dataStart       int64
	rootCluster     uint32
	maxCluster      uint32   // highest valid cluster number
	totalSectors    uint32   // if not 0, the corrected total sector count
	fat             []uint32 // first FAT, entries masked to 28 bits
}

const fatEOC = 0x0ffffff8 // at or above: end of chain

func readVolume(r region) (*volume, error) {
	bs := make([]byte, 512)
	if _, err := r.ReadAt(bs, 0); err != nil {
		return nil, fmt.Errorf("reading boot sector: %w", err)
	}
	if bs[510] != 0x55 || bs[511] != 0xaa || !bytes.Equal(bs[0x52:0x5a], []byte("FAT32   ")) {
		return nil, errors.New("boot sector is not a FAT32 one")
	}
	le16 := func(o int) int64 { return int64(binary.LittleEndian.Uint16(bs[o:])) }
	le32 := func(o int) int64 { return int64(binary.LittleEndian.Uint32(bs[o:])) }
	v := &volume{
		r:              r,
		bytesPerSector: le16(0x0b),
		fsInfoSector:   le16(0x30),
		backupBoot:     le16(0x32),
		rootCluster:    uint32(le32(0x2c)),
	}
	spc := int64(bs[0x0d])
	reserved := le16(0x0e)
	fats := int64(bs[0x10])
	total := le32(0x20)
	spf := le32(0x24)
	if v.bytesPerSector != 512 || spc == 0 || fats == 0 || spf == 0 {
		return nil, fmt.Errorf("unexpected FAT32 geometry: %d bytes per sector, %d sectors per cluster, %d FATs of %d sectors",
			v.bytesPerSector, spc, fats, spf)
	}
	v.bytesPerCluster = spc * v.bytesPerSector
	v.dataStart = (reserved + fats*spf) * v.bytesPerSector
	clusters := (total - reserved - fats*spf) / spc
	raw := make([]byte, spf*v.bytesPerSector)
	if _, err := r.ReadAt(raw, reserved*v.bytesPerSector); err != nil {
		return nil, fmt.Errorf("reading FAT: %w", err)
	}
	// go-diskfs sizes the FAT for the cluster count but forgets the two
	// reserved entries in front, so for some sizes (64 MiB) the last two
	// clusters have no FAT entry. It never allocates them; shrink the
	// file system to what the FAT covers (fixBootSectors writes it).
	if entries := int64(len(raw) / 4); clusters+2 > entries {
		clusters = entries - 2
		v.totalSectors = uint32(reserved + fats*spf + clusters*spc)
	}
	v.maxCluster = uint32(clusters + 1)
	v.fat = make([]uint32, clusters+2)
	for i := range v.fat {
		v.fat[i] = binary.LittleEndian.Uint32(raw[4*i:]) & 0x0fffffff
	}
	return v, nil
}

// chain returns the clusters of the chain starting at first.
func (v *volume) chain(first uint32) ([]uint32, error) {
	var cs []uint32
	for c := first; c < fatEOC; c = v.fat[c] {
		if c < 2 || c > v.maxCluster || len(cs) > len(v.fat) {
			return nil, fmt.Errorf("broken cluster chain from %d at %d", first, c)
		}
		cs = append(cs, c)
	}
	return cs, nil
}

func (v *volume) clusterOffset(c uint32) int64 {
	return v.dataStart + int64(c-2)*v.bytesPerCluster
}

// fixDir sets the timestamps of every entry in the directory at cluster
// dir, points its '..' at parent (0 for the root, as FAT wants) and
// recurses into subdirectories. It also wipes deleted entries, which
// would keep stale names and times. seen guards against cluster loops.
func (v *volume) fixDir(dir, parent uint32, isRoot bool, date, tod uint16, centis byte, seen map[uint32]bool) error {
	if seen[dir] {
		return fmt.Errorf("directory cluster %d reached twice", dir)
	}
	seen[dir] = true
	cs, err := v.chain(dir)
	if err != nil {
		return err
	}
	buf := make([]byte, int64(len(cs))*v.bytesPerCluster)
	for i, c := range cs {
		if _, err := v.r.ReadAt(buf[int64(i)*v.bytesPerCluster:][:v.bytesPerCluster], v.clusterOffset(c)); err != nil {
			return fmt.Errorf("reading directory cluster %d: %w", c, err)
		}
	}
	var subdirs []uint32
	end := 0 // just past the last entry in use
	for o := 0; o+32 <= len(buf); o += 32 {
		e := buf[o : o+32]
		if e[0] == 0 {
			break // no entries after this one
		}
		if e[0] == 0xe5 {
			// Deleted, e.g. where syslinux's mmove took ldlinux.sys
			// from the root: scrub the name and mtools' timestamps, but
			// keep the mark, as a 0 would hide the entries after it.
			clear(e[1:])
			continue
		}
		end = o + 32
		if e[11] == 0x0f {
			continue // a long-name part, which has no times
		}
		e[13] = centis
		binary.LittleEndian.PutUint16(e[14:], tod)  // created
		binary.LittleEndian.PutUint16(e[16:], date) // created
		binary.LittleEndian.PutUint16(e[18:], date) // accessed
		binary.LittleEndian.PutUint16(e[22:], tod)  // modified
		binary.LittleEndian.PutUint16(e[24:], date) // modified
		if e[11]&0x18 != 0x10 {
			continue // a file or the volume label
		}
		var target uint32
		switch string(e[:11]) {
		case ".          ":
			target = dir
		case "..         ":
			target = parent
		default:
			sub := uint32(binary.LittleEndian.Uint16(e[20:]))<<16 | uint32(binary.LittleEndian.Uint16(e[26:]))
			subdirs = append(subdirs, sub)
			continue
		}
		if isRoot {
			return errors.New("root directory has a '.' or '..' entry")
		}
		binary.LittleEndian.PutUint16(e[20:], uint16(target>>16))
		binary.LittleEndian.PutUint16(e[26:], uint16(target))
	}
	// Deleted entries at the end become free ones, as if never written.
	clear(buf[end:])
	for i, c := range cs {
		if _, err := v.r.WriteAt(buf[int64(i)*v.bytesPerCluster:][:v.bytesPerCluster], v.clusterOffset(c)); err != nil {
			return fmt.Errorf("writing directory cluster %d: %w", c, err)
		}
	}
	self := dir
	if isRoot {
		self = 0 // how '..' names the root
	}
	for _, sub := range subdirs {
		if err := v.fixDir(sub, self, false, date, tod, centis, seen); err != nil {
			return err
		}
	}
	return nil
}

// fixBootSectors sets the volume id, hidden sectors and, if readVolume
// corrected it, the size in the boot sector and makes the backup boot sector (which syslinux does not
// update) a copy of it, as fsck.fat expects.
func (v *volume) fixBootSectors(volumeID, hiddenSectors uint32) error {
	bs := make([]byte, v.bytesPerSector)
	if _, err := v.r.ReadAt(bs, 0); err != nil {
		return fmt.Errorf("reading boot sector: %w", err)
	}
	binary.LittleEndian.PutUint32(bs[0x1c:], hiddenSectors)
	binary.LittleEndian.PutUint32(bs[0x43:], volumeID)
	if v.totalSectors != 0 {
		binary.LittleEndian.PutUint32(bs[0x20:], v.totalSectors)
	}
	if _, err := v.r.WriteAt(bs, 0); err != nil {
		return fmt.Errorf("writing boot sector: %w", err)
	}
	if v.backupBoot != 0 {
		if _, err := v.r.WriteAt(bs, v.backupBoot*v.bytesPerSector); err != nil {
			return fmt.Errorf("writing backup boot sector: %w", err)
		}
	}
	return nil
}

// fixFSInfo records the real number of free clusters and the last
// allocated one, in FSInfo and its backup (the sector after the backup
// boot sector).
func (v *volume) fixFSInfo() error {
	var free, last uint32
	for c := uint32(2); c <= v.maxCluster; c++ {
		if v.fat[c] == 0 {
			free++
		} else {
			last = c
		}
	}
	sectors := []int64{v.fsInfoSector}
	if v.backupBoot != 0 {
		sectors = append(sectors, v.backupBoot+1)
	}
	for _, s := range sectors {
		b := make([]byte, v.bytesPerSector)
		if _, err := v.r.ReadAt(b, s*v.bytesPerSector); err != nil {
			return fmt.Errorf("reading FSInfo sector %d: %w", s, err)
		}
		if !bytes.Equal(b[0:4], []byte("RRaA")) || !bytes.Equal(b[484:488], []byte("rrAa")) {
			return fmt.Errorf("sector %d is not an FSInfo sector", s)
		}
		binary.LittleEndian.PutUint32(b[488:], free)
		binary.LittleEndian.PutUint32(b[492:], last)
		if _, err := v.r.WriteAt(b, s*v.bytesPerSector); err != nil {
			return fmt.Errorf("writing FSInfo sector %d: %w", s, err)
		}
	}
	return nil
}

// fatTime clamps t to what a FAT directory entry can hold, in UTC (FAT
// has no time zone; UTC keeps the image independent of the host's).
// The zero time, and the Unix epoch, become 1980-01-01 00:00:00.
func fatTime(t time.Time) time.Time {
	lo := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	hi := time.Date(2107, 12, 31, 23, 59, 59, 0, time.UTC)
	t = t.UTC()
	switch {
	case t.Before(lo):
		return lo
	case t.After(hi):
		return hi
	}
	return t
}

// dosTime encodes t (already clamped by fatTime) as a FAT date, time of
// day (2-second steps) and the creation time's 10 ms remainder.
func dosTime(t time.Time) (date, tod uint16, centis byte) {
	date = uint16(t.Year()-1980)<<9 | uint16(t.Month())<<5 | uint16(t.Day())
	tod = uint16(t.Hour())<<11 | uint16(t.Minute())<<5 | uint16(t.Second()/2)
	centis = byte(t.Second()%2*100 + t.Nanosecond()/1e7)
	return date, tod, centis
}
