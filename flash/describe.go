package flash

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteList prints devices as a table: the disks with their partitions,
// file systems, labels and what uses them, for `rlbuild flash --list`.
func WriteList(w io.Writer, devs []*Device) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tSIZE\tBUS\tREMOVABLE\tMODEL\tUSE")
	for _, d := range devs {
		removable := yesNo(d.Removable)
		if d.Bus == BusLoop {
			removable = "(loop)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Path, sizeString(d.Size), d.Bus, removable, orDash(d.describeModel()), strings.Join(d.uses(), "; "))
		for _, p := range d.Partitions {
			fmt.Fprintf(tw, "  %s\t%s\t\t\t\t%s\n", p.Name, sizeString(p.Size), p.describe())
		}
	}
	return tw.Flush()
}

// uses lists what makes the disk unsafe or notable to write.
func (d *Device) uses() []string {
	var out []string
	if d.HoldsRoot {
		out = append(out, "holds /")
	}
	if d.ReadOnly {
		out = append(out, "read-only")
	}
	for _, m := range d.Mounts {
		if !d.isPartitionSource(m.Source) {
			out = append(out, fmt.Sprintf("%s at %s", m.Source, m.Point))
		}
	}
	if len(d.Holders) > 0 {
		out = append(out, "used by "+strings.Join(d.Holders, ", "))
	}
	for _, s := range d.Swaps {
		out = append(out, s+" is swap")
	}
	if d.FSType != "" {
		out = append(out, fsDescription(d.FSType, d.Label))
	}
	return out
}

// isPartitionSource reports whether a mount source is one of the
// partitions, which WriteList shows on their own lines.
func (d *Device) isPartitionSource(source string) bool {
	for _, p := range d.Partitions {
		if source == p.Path || strings.TrimPrefix(source, "/dev/") == p.Name {
			return len(p.Mounts) > 0
		}
	}
	return false
}

// describeModel names the hardware: vendor and model, or a loop device's
// backing file.
func (d *Device) describeModel() string {
	if d.Bus == BusLoop {
		return "loop on " + d.BackingFile
	}
	vendor, model := strings.TrimSpace(d.Vendor), strings.TrimSpace(d.Model)
	if vendor == "ATA" || strings.HasPrefix(vendor, "0x") {
		vendor = "" // libata's placeholder, virtio's PCI vendor id
	}
	if vendor != "" && !strings.HasPrefix(strings.ToLower(model), strings.ToLower(vendor)) {
		return strings.TrimSpace(vendor + " " + model)
	}
	return model
}

// Summary is a one-line description of the disk: model, size, bus.
func (d *Device) Summary() string {
	parts := []string{}
	if m := d.describeModel(); m != "" {
		parts = append(parts, m)
	}
	parts = append(parts, sizeString(d.Size), string(d.Bus))
	if d.Removable {
		parts = append(parts, "removable")
	}
	return fmt.Sprintf("%s (%s)", d.Path, strings.Join(parts, ", "))
}

func (p Partition) describe() string {
	var parts []string
	if p.FSType != "" {
		parts = append(parts, fsDescription(p.FSType, p.Label))
	}
	for _, m := range p.Mounts {
		parts = append(parts, "mounted at "+m)
	}
	return strings.Join(parts, ", ")
}

func fsDescription(fstype, label string) string {
	if label == "" {
		return fstype
	}
	return fmt.Sprintf("%s %q", fstype, label)
}

// Describe prints the plan: the image, what on the device will be
// destroyed, and the steps.
func (p *Plan) Describe(w io.Writer) {
	img, m := p.Image, p.Image.Map
	kind := "raw"
	if img.Compression != "" {
		kind = img.Compression + "-compressed"
	}
	fmt.Fprintf(w, "image:  %s (%s, %s)\n", img.Path, sizeString(img.Size), kind)
	fmt.Fprintf(w, "        %s of data in %d %s, mapped by %s\n", sizeString(m.MappedBytes()), len(m.Ranges), plural(len(m.Ranges), "range", "ranges"), img.MapSource)
	if img.Manifest != nil {
		fmt.Fprintf(w, "        build %q (%s), checked against its manifest\n", img.Manifest.Name, img.Manifest.Arch)
	}
	d := p.Device
	fmt.Fprintf(w, "device: %s\n", d.Summary())
	fmt.Fprintf(w, "        everything on it will be destroyed:")
	switch {
	case len(d.Partitions) > 0:
		fmt.Fprintln(w)
		for _, pt := range d.Partitions {
			desc := pt.describe()
			if desc == "" {
				desc = "no file system found"
			}
			fmt.Fprintf(w, "          %-12s %10s  %s\n", pt.Name, sizeString(pt.Size), desc)
		}
	case d.FSType != "":
		fmt.Fprintf(w, " %s on the whole disk\n", fsDescription(d.FSType, d.Label))
	default:
		fmt.Fprintln(w, " no partitions found")
	}
	fmt.Fprintf(w, "plan:   write %s in %d %s with direct I/O, the first %s last\n",
		sizeString(p.WriteBytes()), len(p.Extents)+1, plural(len(p.Extents)+1, "extent", "extents"), sizeString(p.Head.Len()))
	if n := p.HoleBytes(); n > 0 {
		fmt.Fprintf(w, "        %s unmapped: %s\n", sizeString(n), p.holePlan())
	}
	fmt.Fprintln(w, "        then read it back and compare SHA-256 per range")
}

// holePlan says what Write will do to the holes, from what the device
// says it supports.
func (p *Plan) holePlan() string {
	d := p.Device
	switch {
	case d.WriteZeroes && p.ZeroUnmapped:
		return "zeroed by unmapping, or written as zeros if the device refuses"
	case d.WriteZeroes && d.Discard:
		return "zeroed by unmapping, or discarded if the device refuses"
	case d.WriteZeroes:
		return "zeroed by unmapping if the device can, else left as they are"
	case p.ZeroUnmapped:
		return "written as zeros (the device cannot zero without writing)"
	case d.Discard:
		return "discarded"
	}
	return "left as they are (the device cannot discard; the image does not depend on them)"
}

// ErrNotConfirmed is Confirm's answer to anything but "yes".
var ErrNotConfirmed = errors.New("not confirmed: nothing was written")

// Confirm asks on out whether to write the plan and reads the answer
// from in: it returns nil only for "yes".
func Confirm(in io.Reader, out io.Writer, p *Plan) error {
	fmt.Fprintf(out, "Erase %s and write %s to it? Type yes to continue: ", p.Device.Summary(), p.Image.Path)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(out)
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("no answer on standard input (pass --yes to write without asking): %w", ErrNotConfirmed)
		}
		return err
	}
	if strings.TrimSpace(line) != "yes" {
		return ErrNotConfirmed
	}
	return nil
}

// sizeString formats a byte count for people, in binary units.
func sizeString(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), 0
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB"}
	for f /= unit; f >= unit && i < len(units)-1; f /= unit {
		i++
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
