package pci

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
)

// Config space offsets.
const (
	ConfigCommand = 0x04
	ConfigStatus  = 0x06
)

// ReadConfig16 reads a 16-bit config space register of addr.
func (b *Bus) ReadConfig16(addr string, off int64) (uint16, error) {
	f, err := os.Open(filepath.Join(b.root(), addr, "config"))
	if err != nil {
		return 0, fmt.Errorf("pci: %w", err)
	}
	defer f.Close()
	var v [2]byte
	if _, err := f.ReadAt(v[:], off); err != nil {
		return 0, fmt.Errorf("pci: %s config at %#x: %w", addr, off, err)
	}
	return binary.LittleEndian.Uint16(v[:]), nil
}

// WriteConfig16 writes a 16-bit config space register of addr.
func (b *Bus) WriteConfig16(addr string, off int64, val uint16) error {
	f, err := os.OpenFile(filepath.Join(b.root(), addr, "config"), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("pci: %w", err)
	}
	defer f.Close()
	var v [2]byte
	binary.LittleEndian.PutUint16(v[:], val)
	if _, err := f.WriteAt(v[:], off); err != nil {
		return fmt.Errorf("pci: %s config at %#x: %w", addr, off, err)
	}
	return nil
}

// SetCommand sets the bits set and clears the bits clear of addr's command
// register (hw.CmdMemory, hw.CmdBusMaster, hw.CmdINTxDisable), and returns
// the new value.
func (b *Bus) SetCommand(addr string, set, clear uint16) (uint16, error) {
	v, err := b.ReadConfig16(addr, ConfigCommand)
	if err != nil {
		return 0, err
	}
	v = v&^clear | set
	return v, b.WriteConfig16(addr, ConfigCommand, v)
}
