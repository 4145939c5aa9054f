package flash

import (
	"errors"
	"fmt"
	"strings"
)

// Reason is why a device must not be written.
type Reason int

// The reasons, in the order the checks run.
const (
	// NotWholeDisk: the path is not a block device, is a partition, or
	// is a virtual device (device-mapper, md, zram).
	NotWholeDisk Reason = iota + 1
	// HoldsRoot: the running system's / is on the device.
	HoldsRoot
	// Mounted: a file system on the device or stacked on it is mounted.
	Mounted
	// InUse: device-mapper or md devices are built on the device, or it
	// holds active swap.
	InUse
	// HoldsImage: writing the device would overwrite the image file
	// (it is on the device, or the device is a loop device backed by it).
	HoldsImage
	// ReadOnly: the device is read-only, e.g. an SD card with its
	// write-protect switch on.
	ReadOnly
	// TooSmall: the image does not fit.
	TooSmall
	// NotRemovable: a fixed disk that Force does not name.
	NotRemovable
	// Busy: the device could not be opened exclusively: something
	// mounted it or opened it exclusively since it was checked.
	Busy
)

var reasonNames = map[Reason]string{
	NotWholeDisk: "not a whole disk",
	HoldsRoot:    "holds the running system",
	Mounted:      "mounted",
	InUse:        "in use",
	HoldsImage:   "holds the image",
	ReadOnly:     "read-only",
	TooSmall:     "too small",
	NotRemovable: "not removable",
	Busy:         "busy",
}

func (r Reason) String() string {
	if s, ok := reasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// RefusedError is a device that must not be written, and why. When
// several reasons apply, Plan returns an error that wraps one
// RefusedError per reason (see Refused).
type RefusedError struct {
	Device string // the device path
	Reason Reason
	Detail string // the reason in words, with the facts behind it
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refusing to write %s: %s", e.Device, e.Detail)
}

func refused(device string, r Reason, format string, args ...any) *RefusedError {
	return &RefusedError{Device: device, Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Refused reports whether err refuses a device for reason r, among
// others.
func Refused(err error, r Reason) bool {
	var re *RefusedError
	if errors.As(err, &re) && re.Reason == r {
		return true
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if Refused(e, r) {
				return true
			}
		}
	}
	return false
}

// target is what the checks know about the image.
type target struct {
	size     int64           // bytes the image covers on the device
	devs     map[uint64]bool // block devices holding the image file
	file     string          // the image file, for messages
	dev, ino uint64          // the image file's identity
	forced   bool            // Force names the device
}

// check returns the refusals of writing the image to d, joined, or nil.
func check(d *Device, t target) error {
	var errs refusals
	add := func(r Reason, format string, args ...any) {
		errs = append(errs, refused(d.Path, r, format, args...))
	}
	if d.HoldsRoot {
		add(HoldsRoot, "it holds the running system's root file system (/)")
	}
	if len(d.Mounts) > 0 {
		var ms []string
		for _, m := range d.Mounts {
			ms = append(ms, fmt.Sprintf("%s is mounted at %s", m.Source, m.Point))
		}
		add(Mounted, "%s: unmount it first", strings.Join(ms, ", "))
	}
	if len(d.Holders) > 0 {
		add(InUse, "%s %s built on it (device-mapper or md): stop them first", strings.Join(d.Holders, ", "), plural(len(d.Holders), "is", "are"))
	}
	if len(d.Swaps) > 0 {
		add(InUse, "%s %s in use as swap: swapoff first", strings.Join(d.Swaps, ", "), plural(len(d.Swaps), "is", "are"))
	}
	if holds := d.Dev != 0 && t.devs[d.Dev]; holds || anyPartition(d, t.devs) {
		add(HoldsImage, "it holds the image file %s", t.file)
	} else if d.BackingFile != "" && t.ino != 0 {
		if dev, ino, err := fileDevice(d.BackingFile); err == nil && dev == t.dev && ino == t.ino {
			add(HoldsImage, "it is a loop device backed by the image file %s", t.file)
		}
	}
	if d.ReadOnly {
		add(ReadOnly, "the device is read-only (is the write-protect switch of the card or stick on?)")
	}
	if need := roundUp(t.size, d.LogicalBlockSize); need > d.Size {
		add(TooSmall, "the image needs %s (%d bytes) but the device has only %s (%d bytes)", sizeString(need), need, sizeString(d.Size), d.Size)
	}
	if !d.Removable && d.Bus != BusLoop && !t.forced {
		what := fmt.Sprintf("a fixed %s disk", d.Bus)
		if name := d.describeModel(); name != "" {
			what += " (" + name + ")"
		}
		add(NotRemovable, "it is %s, not removable media: if you are sure, name it with --force %s", what, d.Path)
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return refusals(errs)
}

// refusals are the reasons to refuse a device, when there are several.
type refusals []error

func (rs refusals) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "refusing to write %s:", rs[0].(*RefusedError).Device)
	for _, r := range rs {
		b.WriteString("\n  - " + r.(*RefusedError).Detail)
	}
	return b.String()
}

func (rs refusals) Unwrap() []error { return rs }

func anyPartition(d *Device, devs map[uint64]bool) bool {
	for _, p := range d.Partitions {
		if devs[p.Dev] {
			return true
		}
	}
	return false
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
