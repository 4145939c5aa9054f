//go:build linux

package flash

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// smallImage writes a 4 MiB sparse image with some data in dir.
func smallImage(t *testing.T, dir string) *Image {
	t.Helper()
	path := filepath.Join(dir, "disk.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(4 << 20); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("RLGO image"), 2<<20); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	img, err := OpenImage(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { img.Close() })
	return img
}

// fileSum is the SHA-256 of a file, to show a device's backing file was
// not written.
func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// mustRefuse checks that Plan refuses the device for reason r, with want
// in the message, and that the backing file is unchanged. Plan never opens
// a device for writing: a refusal comes before any write can.
func mustRefuse(t *testing.T, h Host, img *Image, dev string, o PlanOptions, r Reason, want, backing string) {
	t.Helper()
	var before [32]byte
	if backing != "" {
		before = fileSum(t, backing)
	}
	p, err := h.Plan(img, dev, o)
	if err == nil {
		t.Fatalf("Plan(%s) = %+v, want a refusal (%s)", dev, p.Device, r)
	}
	var re *RefusedError
	if !errors.As(err, &re) || !Refused(err, r) {
		t.Fatalf("Plan(%s) error = %v, want a %s refusal", dev, err, r)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("Plan(%s) error = %q, want it to say %q", dev, err, want)
	}
	if backing != "" && fileSum(t, backing) != before {
		t.Errorf("%s changed although it was refused", dev)
	}
}

func TestRefuseNotWholeDisk(t *testing.T) {
	requireLoops(t)
	dir := t.TempDir()
	img := smallImage(t, dir)
	var h Host
	mustRefuse(t, h, img, img.Path, PlanOptions{}, NotWholeDisk, "it is a regular file, not a block device", "")
	mustRefuse(t, h, img, dir, PlanOptions{}, NotWholeDisk, "it is a directory, not a block device", "")
	mustRefuse(t, h, img, "/dev/null", PlanOptions{}, NotWholeDisk, "it is a character device", "")
	mustRefuse(t, h, img, filepath.Join(dir, "nonexistent"), PlanOptions{}, NotWholeDisk, "no such device", "")

	// A partition of a loop device.
	loop, part := partitionedLoop(t, 16<<20)
	mustRefuse(t, h, img, part, PlanOptions{}, NotWholeDisk, "it is partition 1 of "+loop+": name the whole disk", "")

	// A link to the partition, as in /dev/disk/by-id.
	link := filepath.Join(dir, "by-id-part1")
	if err := os.Symlink(part, link); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, h, img, link, PlanOptions{}, NotWholeDisk, "partition 1", "")

	// An unbound loop device is no disk.
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
	if err != nil {
		t.Fatal(err)
	}
	unbound := fmt.Sprintf("/dev/loop%d", n)
	_, err = h.Plan(img, unbound, PlanOptions{})
	if _, statErr := os.Stat(fmt.Sprintf("/sys/block/loop%d/loop/backing_file", n)); statErr == nil {
		t.Logf("%s was bound by someone else meanwhile: not checking its refusal", unbound)
	} else if !Refused(err, NotWholeDisk) || !strings.Contains(err.Error(), "is not a disk") {
		t.Errorf("Plan(unbound %s) = %v, want a NotWholeDisk refusal", unbound, err)
	}
}

func TestRefuseMounted(t *testing.T) {
	requireLoops(t)
	img := smallImage(t, t.TempDir())
	var h Host

	// A file system on the whole device.
	backing := backingFile(t, 16<<20, 0)
	mkfs(t, "ext4", "rlgo-whole", backing)
	loop := attachLoop(t, backing, 0)
	dir := mount(t, loop, "ext4")
	mustRefuse(t, h, img, loop, PlanOptions{}, Mounted, loop+" is mounted at "+dir+": unmount it first", backing)

	// A mounted partition refuses the whole disk; Lookup shows the
	// partition's file system, label and mount point.
	loop2, part := partitionedLoop(t, 32<<20)
	mkfs(t, "ext4", "rlgo-part", part)
	dir2 := mount(t, part, "ext4")
	mustRefuse(t, h, img, loop2, PlanOptions{}, Mounted, part+" is mounted at "+dir2, "")
	d, err := h.Lookup(loop2)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Partitions) != 1 || d.Partitions[0].FSType != "ext4" || d.Partitions[0].Label != "rlgo-part" || len(d.Partitions[0].Mounts) != 1 {
		t.Errorf("partitions of %s: %+v, want one ext4 labeled rlgo-part, mounted", loop2, d.Partitions)
	}

	// What O_EXCL adds: while we hold the device, nobody mounts it.
	backing3 := backingFile(t, 16<<20, 0)
	mkfs(t, "ext4", "rlgo", backing3)
	loop3 := attachLoop(t, backing3, 0)
	f, err := openExclusive(loop3)
	if err != nil {
		t.Fatal(err)
	}
	err = unix.Mount(loop3, t.TempDir(), "ext4", 0, "")
	f.Close()
	if !errors.Is(err, unix.EBUSY) {
		t.Errorf("mounting %s while it is open with O_EXCL: %v, want EBUSY", loop3, err)
	}
	// And a mounted device cannot be opened with O_EXCL.
	if f, err := openExclusive(loop); !isBusy(err) {
		f.Close()
		t.Errorf("O_EXCL open of mounted %s: %v, want EBUSY", loop, err)
	}
}

func TestRefuseHoldsRoot(t *testing.T) {
	requireLoops(t)
	img := smallImage(t, t.TempDir())
	backing := backingFile(t, 16<<20, 0)
	loop := attachLoop(t, backing, 0)
	d, err := Host{}.Lookup(loop)
	if err != nil {
		t.Fatal(err)
	}
	// The running system's / cannot be a test's loop device: this mount
	// table says it is.
	mi := filepath.Join(t.TempDir(), "mountinfo")
	line := fmt.Sprintf("1 0 %d:%d / / rw,relatime shared:1 - ext4 %s rw\n", major(d.Dev), minor(d.Dev), loop)
	if err := os.WriteFile(mi, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, Host{MountInfo: mi}, img, loop, PlanOptions{}, HoldsRoot, "it holds the running system's root file system (/)", backing)
}

func TestRefuseHoldsImage(t *testing.T) {
	requireLoops(t)
	var h Host

	// A loop device backed by the image file itself.
	img := smallImage(t, t.TempDir())
	loop := attachLoop(t, img.Path, 0)
	mustRefuse(t, h, img, loop, PlanOptions{}, HoldsImage, "it is a loop device backed by the image file", img.Path)

	// The image on a file system of the device, still mounted.
	backing := backingFile(t, 32<<20, 0)
	mkfs(t, "ext4", "images", backing)
	loop2 := attachLoop(t, backing, 0)
	dir := mount(t, loop2, "ext4")
	inside := smallImage(t, dir)
	mustRefuse(t, h, inside, loop2, PlanOptions{}, HoldsImage, "it holds the image file "+inside.Path, "")

	// Lazily unmounted while the image is open: gone from the mount
	// table, still on the device.
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	p, err := h.Plan(inside, loop2, PlanOptions{})
	if !Refused(err, HoldsImage) || Refused(err, Mounted) {
		t.Errorf("Plan(%s) with the image on its lazily unmounted file system = %v, %v; want HoldsImage only", loop2, p, err)
	}
}

func TestRefuseReadOnly(t *testing.T) {
	requireLoops(t)
	img := smallImage(t, t.TempDir())
	backing := backingFile(t, 16<<20, 0)
	loop := attachLoop(t, backing, loopReadOnly)
	mustRefuse(t, Host{}, img, loop, PlanOptions{}, ReadOnly, "the device is read-only", backing)
}

func TestRefuseTooSmall(t *testing.T) {
	requireLoops(t)
	img := smallImage(t, t.TempDir())
	backing := backingFile(t, 3<<20, 0)
	loop := attachLoop(t, backing, 0)
	mustRefuse(t, Host{}, img, loop, PlanOptions{}, TooSmall, "the image needs 4.0 MiB (4194304 bytes) but the device has only 3.0 MiB (3145728 bytes)", backing)
}

// TestRefuseBusy: a device opened exclusively by someone else between
// the checks and the write is refused when Write opens it, unwritten.
func TestRefuseBusy(t *testing.T) {
	requireLoops(t)
	img := smallImage(t, t.TempDir())
	backing := backingFile(t, 16<<20, 0xa5)
	loop := attachLoop(t, backing, 0)
	p, err := Host{}.Plan(img, loop, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := openExclusive(loop) // the second writer
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	before := fileSum(t, backing)
	_, err = p.Write(context.Background(), WriteOptions{})
	if !Refused(err, Busy) {
		t.Errorf("Write to a device held with O_EXCL = %v, want a Busy refusal", err)
	}
	var ie *IncompleteError
	if errors.As(err, &ie) {
		t.Errorf("a refused Write says it wrote: %v", err)
	}
	if fileSum(t, backing) != before {
		t.Error("the busy device was written")
	}
}

// TestForceNamesTheDevice: Force must name the target itself.
func TestForceNamesTheDevice(t *testing.T) {
	requireLoops(t)
	img := smallImage(t, t.TempDir())
	loop := attachLoop(t, backingFile(t, 16<<20, 0), 0)
	other := attachLoop(t, backingFile(t, 16<<20, 0), 0)
	h := Host{}
	d, err := h.Lookup(loop)
	if err != nil {
		t.Fatal(err)
	}
	// Loop devices are allowed without Force; make this one fixed media
	// to see Force at work.
	d.Bus = BusSATA
	env, err := h.environment()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		forced bool
		ok     bool
	}{
		{false, false},
		{true, true},
	} {
		tg := target{size: img.Size, devs: h.below(img.dev, env.mounts), forced: tc.forced}
		err := check(d, tg)
		if ok := err == nil; ok != tc.ok || (!ok && !Refused(err, NotRemovable)) {
			t.Errorf("forced=%v: %v, want ok=%v", tc.forced, err, tc.ok)
		}
	}
	// Plan turns Force into forced only when it names the device itself
	// (by path or bare name); naming another is an error of its own, not a
	// refusal that --force could be thought to have overridden.
	for _, force := range []string{loop, filepath.Base(loop)} {
		if _, err := h.Plan(img, loop, PlanOptions{Force: force}); err != nil {
			t.Errorf("Force %q naming the device: %v", force, err)
		}
	}
	for _, force := range []string{other, "/dev/no-such-disk"} {
		_, err := h.Plan(img, loop, PlanOptions{Force: force})
		var fe *ForceError
		if !errors.As(err, &fe) || fe.Force != force || !strings.Contains(err.Error(), "does not name the device to be written") {
			t.Errorf("Force %q naming another device: %v, want a *ForceError", force, err)
		}
	}
}

// reattachLoop binds the loop device at path to another file, as a person
// (or a script) might while the confirmation prompt is open.
func reattachLoop(t *testing.T, path, backing string) {
	t.Helper()
	lf, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	for i := 0; ; i++ {
		err := unix.IoctlSetInt(int(lf.Fd()), unix.LOOP_CLR_FD, 0)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EBUSY) || i == 50 {
			t.Fatalf("detaching %s: %v", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// LOOP_CLR_FD lets go of the file when the last opener closes the
	// device: reopen it so the new binding is not taken back.
	lf.Close()
	f, err := os.OpenFile(backing, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := 0; ; i++ {
		lf2, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		cfg := unix.LoopConfig{Fd: uint32(f.Fd())}
		copy(cfg.Info.File_name[:], backing)
		err = unix.IoctlLoopConfigure(int(lf2.Fd()), &cfg)
		lf2.Close()
		if err == nil {
			return
		}
		if !errors.Is(err, unix.EBUSY) || i == 50 {
			t.Fatalf("re-attaching %s to %s: %v", path, backing, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDeviceChangedAfterPlan: the device behind the path that was checked
// and confirmed is re-attached to another file before the write: the write
// is refused and neither file changes.
func TestDeviceChangedAfterPlan(t *testing.T) {
	requireLoops(t)
	img := smallImage(t, t.TempDir())
	shown := backingFile(t, 16<<20, 0x11)
	other := backingFile(t, 16<<20, 0x22)
	loop := attachLoop(t, shown, 0)
	p, err := Host{}.Plan(img, loop, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before, beforeOther := fileSum(t, shown), fileSum(t, other)
	reattachLoop(t, loop, other)
	_, err = p.Write(context.Background(), WriteOptions{})
	var ce *ChangedError
	if !errors.As(err, &ce) {
		t.Fatalf("Write after the device was re-attached = %v, want a *ChangedError", err)
	}
	t.Logf("refused: %v", err)
	if !strings.Contains(err.Error(), "nothing was written") {
		t.Errorf("the error does not say nothing was written: %v", err)
	}
	if fileSum(t, shown) != before || fileSum(t, other) != beforeOther {
		t.Error("a file was written although the device changed")
	}
	// Planned again, the same device is written.
	p, err = Host{}.Plan(img, loop, PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write(context.Background(), WriteOptions{}); err != nil {
		t.Fatalf("Write after a fresh plan: %v", err)
	}
	if fileSum(t, other) == beforeOther {
		t.Error("the re-planned write did not reach the device")
	}
}
