//go:build !linux

package flash

import (
	"io/fs"
	"os"
)

func statDevice(path string) (uint64, string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, "", err
	}
	switch m := st.Mode(); {
	case m.IsRegular():
		return 0, "regular file", nil
	case m.IsDir():
		return 0, "directory", nil
	case m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0:
		return 0, "block device", nil
	}
	return 0, "special file", nil
}

func fileDevice(string) (uint64, uint64, error) { return 0, 0, errLinuxOnly }
