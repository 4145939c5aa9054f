package virtionet

import (
	"fmt"

	"github.com/rlgo/redleaf/kernel/hw"
)

// Function is what the driver is granted: the PCI function (its BARs, its
// DMA allocator) and its configuration space, which holds the virtio
// capabilities that say where in the BARs the device's structures are.
// Config space is read and written in aligned 32-bit words; the kernel
// implements this over sysfs's config file, the tests over QEMU's qtest.
type Function interface {
	hw.PCIDevice
	ConfigRead32(off int) uint32
	ConfigWrite32(off int, v uint32)
}

// A region is one virtio structure: a window of a BAR.
type region struct {
	regs hw.Regs
	bar  int
	off  int // the structure's offset in the BAR
	len  int
}

// transport is the virtio PCI modern transport of one function: where its
// structures are, and how to reach each field.
//
// hw.Regs makes aligned 32-bit accesses only, and a device decodes
// accesses by the address of the field (QEMU answers a 32-bit access at
// device_status with device_status alone, and a real device may write the
// neighbouring field too), so the narrow fields at offsets that are not a
// multiple of 4 (queue_select, queue_notify_off, num_queues) and every
// narrow write go through the PCI configuration access capability
// instead: a window in config space through which the device makes an
// access of 1, 2 or 4 bytes to its BAR. That costs a few config accesses
// and is used only while the device is set up.
type transport struct {
	fn        Function
	common    region
	device    region
	notify    region
	notifyMul int
	window    int // config offset of the VIRTIO_PCI_CAP_PCI_CFG capability
}

// findTransport walks the capability list of fn for the modern virtio
// structures and maps their BARs.
func findTransport(fn Function) (*transport, error) {
	t := &transport{fn: fn}
	if fn.ConfigRead32(0x04)>>16&cfgStatusCaps == 0 {
		return nil, fmt.Errorf("%w: %s has no PCI capability list", ErrNotModern, fn.Addr())
	}
	var have [capPCICfg + 1]bool
	p := int(fn.ConfigRead32(cfgCapPtr) & 0xfc)
	for n := 0; p != 0 && n < 48; n++ { // 48: as many as fit in 256 bytes
		hdr := fn.ConfigRead32(p)
		id, next, typ := hdr&0xff, int(hdr>>8&0xfc), int(hdr>>24)
		if id == capVendor && typ >= capCommonCfg && typ <= capPCICfg && !have[typ] {
			if typ == capPCICfg {
				t.window, have[typ] = p, true
			} else if r, ok := t.mapCap(p); ok {
				have[typ] = true
				switch typ {
				case capCommonCfg:
					t.common = r
				case capDeviceCfg:
					t.device = r
				case capNotifyCfg:
					t.notify = r
					t.notifyMul = int(fn.ConfigRead32(p + capOffNotifyMul))
				}
			}
		}
		p = next
	}
	switch {
	case !have[capCommonCfg] || !have[capNotifyCfg]:
		return nil, fmt.Errorf("%w: %s has no usable common or notify configuration capability in memory space", ErrNotModern, fn.Addr())
	case !have[capPCICfg]:
		return nil, fmt.Errorf("%w: %s has no PCI configuration access capability", ErrNotModern, fn.Addr())
	case t.common.len < commonMinLen:
		return nil, fmt.Errorf("virtio-net: %s: common configuration is %d bytes, want %d", fn.Addr(), t.common.len, commonMinLen)
	}
	return t, nil
}

// mapCap maps the BAR of the capability at p and checks that its structure
// lies inside it. A capability in an I/O BAR, which cannot be mapped, is
// skipped (the spec lets a device offer the same structure twice).
func (t *transport) mapCap(p int) (region, bool) {
	bar := int(t.fn.ConfigRead32(p+capOffBar) & 0xff)
	off := int(t.fn.ConfigRead32(p + capOffOffset))
	n := int(t.fn.ConfigRead32(p + capOffLength))
	if bar > 5 {
		return region{}, false
	}
	regs, err := t.fn.BAR(bar)
	if err != nil || off < 0 || n < 0 || off+n > regs.Len() {
		return region{}, false
	}
	return region{regs: regs, bar: bar, off: off, len: n}, true
}

// read32 and write32 access an aligned 32-bit field of r.
func (r region) read32(off int) uint32     { return r.regs.Read32(r.off + off) }
func (r region) write32(off int, v uint32) { r.regs.Write32(r.off+off, v) }

// windowRead and windowWrite access size bytes (1, 2 or 4) at off in r
// through the configuration access capability.
func (t *transport) windowRead(r region, off, size int) uint32 {
	t.aim(r, off, size)
	v := t.fn.ConfigRead32(t.window + capOffCfgData)
	if size < 4 {
		v &= 1<<(8*size) - 1
	}
	return v
}

func (t *transport) windowWrite(r region, off, size int, v uint32) {
	t.aim(r, off, size)
	t.fn.ConfigWrite32(t.window+capOffCfgData, v)
}

func (t *transport) aim(r region, off, size int) {
	t.fn.ConfigWrite32(t.window+capOffBar, uint32(r.bar))
	t.fn.ConfigWrite32(t.window+capOffOffset, uint32(r.off+off))
	t.fn.ConfigWrite32(t.window+capOffLength, uint32(size))
}

// status reads device_status.
func (t *transport) status() uint8 { return uint8(t.common.read32(commonStatus)) }

// setStatus writes device_status.
func (t *transport) setStatus(s uint8) { t.windowWrite(t.common, commonStatus, 1, uint32(s)) }

// selectQueue makes queue q the one the queue_* fields describe.
func (t *transport) selectQueue(q uint16) { t.windowWrite(t.common, commonQSelect, 2, uint32(q)) }

// deviceFeatures reads the 64 feature bits the device offers.
func (t *transport) deviceFeatures() uint64 {
	t.common.write32(commonDFSelect, 0)
	lo := t.common.read32(commonDF)
	t.common.write32(commonDFSelect, 1)
	hi := t.common.read32(commonDF)
	return uint64(hi)<<32 | uint64(lo)
}

// setDriverFeatures writes the features the driver accepts.
func (t *transport) setDriverFeatures(f uint64) {
	t.common.write32(commonGFSelect, 0)
	t.common.write32(commonGF, uint32(f))
	t.common.write32(commonGFSelect, 1)
	t.common.write32(commonGF, uint32(f>>32))
}

// notifyAt is the offset in the notify region of queue q's doorbell, whose
// notify_off the device reported as off.
func (t *transport) notifyAt(off uint16) int { return int(off) * t.notifyMul }

// kick notifies the device of new buffers in queue q (doorbell at, from
// notifyAt): one 32-bit write when the doorbell is aligned (QEMU: a
// multiplier of 4), else a 16-bit write through the window.
func (t *transport) kick(at int, q uint16) {
	if at&3 == 0 && at+4 <= t.notify.len {
		t.notify.write32(at, uint32(q))
		return
	}
	t.windowWrite(t.notify, at, 2, uint32(q))
}
