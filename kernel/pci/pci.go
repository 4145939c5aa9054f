// Package pci is the trusted half of the device substrate for PCI: it finds
// devices through sysfs, takes them from Linux, sets their command register
// and maps their BARs. A driver domain gets what Take returns, a Function,
// as an hw.PCIDevice: the one device it may reach.
//
// Everything goes through files under a sysfs root (Bus.Root) and an
// injectable mmap, so that tests run against recorded sysfs trees.
package pci

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// DefaultRoot is where Linux lists PCI functions.
const DefaultRoot = "/sys/bus/pci/devices"

// A Bus is the PCI functions under a sysfs root.
type Bus struct {
	Root string // default DefaultRoot
	// Mmap maps n bytes of the file f from offset 0, shared, read-write;
	// nil means the system call.
	Mmap func(f *os.File, n int) ([]byte, error)
}

func (b *Bus) root() string {
	if b == nil || b.Root == "" {
		return DefaultRoot
	}
	return b.Root
}

// A BAR is a base address register as Linux assigned it.
type BAR struct {
	Start, End uint64 // physical, inclusive end; zero when unused
	Flags      uint64 // IORESOURCE_* flags
}

// Resource flags of sysfs's resource file.
const (
	resIO     = 0x100
	resMem    = 0x200
	resPrefet = 0x2000
	resMem64  = 0x100000
)

// Size is the BAR's size in bytes (0 if unused).
func (b BAR) Size() uint64 {
	if b.End == 0 && b.Start == 0 {
		return 0
	}
	return b.End - b.Start + 1
}

// IsMem reports whether the BAR is memory space (mappable).
func (b BAR) IsMem() bool { return b.Flags&resMem != 0 }

// A Device is one PCI function as sysfs describes it.
type Device struct {
	Addr     string // 0000:00:04.0
	Vendor   uint16
	DeviceID uint16
	Class    uint32 // base class, subclass, programming interface
	Driver   string // the Linux driver bound to it ("" if none)
	BARs     [6]BAR
}

// ClassName is a short name of the device's class.
func (d Device) ClassName() string {
	switch d.Class >> 8 {
	case 0x0108:
		return "NVMe"
	case 0x0106:
		return "SATA"
	case 0x0200:
		return "Ethernet"
	case 0x0300:
		return "VGA"
	case 0x0600:
		return "Host bridge"
	case 0x0601:
		return "ISA bridge"
	case 0x0604:
		return "PCI bridge"
	case 0x0c05:
		return "SMBus"
	case 0x0c03:
		return "USB"
	case 0x0100:
		return "SCSI"
	case 0x0403:
		return "Audio"
	case 0x00ff:
		return "Unclassified"
	}
	return fmt.Sprintf("class %04x", d.Class>>8)
}

// Scan lists the PCI functions, sorted by address.
func (b *Bus) Scan() ([]Device, error) {
	ents, err := os.ReadDir(b.root())
	if err != nil {
		return nil, fmt.Errorf("pci: listing %s: %w", b.root(), err)
	}
	var devs []Device
	for _, e := range ents {
		d, err := b.Lookup(e.Name())
		if err != nil {
			return nil, err
		}
		devs = append(devs, d)
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].Addr < devs[j].Addr })
	return devs, nil
}

// Lookup reads one function's description.
func (b *Bus) Lookup(addr string) (Device, error) {
	dir := filepath.Join(b.root(), addr)
	d := Device{Addr: addr}
	v, err := readHex(dir, "vendor")
	if err != nil {
		return d, err
	}
	id, err := readHex(dir, "device")
	if err != nil {
		return d, err
	}
	class, err := readHex(dir, "class")
	if err != nil {
		return d, err
	}
	d.Vendor, d.DeviceID, d.Class = uint16(v), uint16(id), uint32(class)
	if link, err := os.Readlink(filepath.Join(dir, "driver")); err == nil {
		d.Driver = filepath.Base(link)
	}
	res, err := os.ReadFile(filepath.Join(dir, "resource"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return d, fmt.Errorf("pci: %s: %w", addr, err)
	}
	d.BARs, err = parseResource(string(res))
	if err != nil {
		return d, fmt.Errorf("pci: %s/resource: %w", addr, err)
	}
	return d, nil
}

func readHex(dir, name string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return 0, fmt.Errorf("pci: %w", err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 0, 64)
	if err != nil {
		return 0, fmt.Errorf("pci: %s/%s: %w", dir, name, err)
	}
	return v, nil
}

// parseResource parses sysfs's resource file: one line per resource,
// "start end flags" in hex; the first six are the BARs.
func parseResource(s string) ([6]BAR, error) {
	var bars [6]BAR
	for i, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if i >= 6 || line == "" {
			break
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return bars, fmt.Errorf("line %d: %q: want start end flags", i+1, line)
		}
		var v [3]uint64
		for j := range f {
			x, err := strconv.ParseUint(f[j], 0, 64)
			if err != nil {
				return bars, fmt.Errorf("line %d: %w", i+1, err)
			}
			v[j] = x
		}
		bars[i] = BAR{Start: v[0], End: v[1], Flags: v[2]}
	}
	return bars, nil
}

// Unbind detaches the Linux driver bound to addr, if any.
func (b *Bus) Unbind(addr string) error {
	p := filepath.Join(b.root(), addr, "driver", "unbind")
	if _, err := os.Stat(filepath.Join(b.root(), addr, "driver")); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := os.WriteFile(p, []byte(addr), 0); err != nil {
		return fmt.Errorf("pci: unbinding %s from its driver: %w", addr, err)
	}
	return nil
}
