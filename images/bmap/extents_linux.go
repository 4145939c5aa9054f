package bmap

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// dataExtents returns the byte extents [start, end) of f that hold data,
// in ascending order, by SEEK_DATA and SEEK_HOLE. A file system that
// does not support them reports the whole file as data.
func dataExtents(f *os.File, size int64) ([][2]int64, error) {
	fd := int(f.Fd())
	var extents [][2]int64
	for off := int64(0); off < size; {
		start, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // no data after off
		}
		if errors.Is(err, unix.EINVAL) && off == 0 {
			return [][2]int64{{0, size}}, nil // no SEEK_DATA support
		}
		if err != nil {
			return nil, err
		}
		end, err := unix.Seek(fd, start, unix.SEEK_HOLE)
		if err != nil {
			return nil, err
		}
		end = min(end, size)
		if end <= start {
			break
		}
		extents = append(extents, [2]int64{start, end})
		off = end
	}
	return extents, nil
}
