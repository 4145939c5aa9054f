// Package linuxblk reads a block device through Linux's own driver, for
// comparison with a driver domain: it finds the namespace Linux's nvme
// driver made of a PCI function (through sysfs) and measures 4 KiB random
// reads with O_DIRECT, the page cache out of the way, at a given queue
// depth (that many threads, each with one pread in flight). It is trusted
// kernel code: it makes system calls.
package linuxblk

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rlgo/redleaf/idl"
)

// Sysfs is where the lookups start; tests point it at a recorded tree.
type Sysfs struct {
	Root string // default "/sys"
	Dev  string // where device nodes are, default "/dev"
}

func (s Sysfs) root() string {
	if s.Root == "" {
		return "/sys"
	}
	return s.Root
}

func (s Sysfs) dev() string {
	if s.Dev == "" {
		return "/dev"
	}
	return s.Dev
}

// A Disk is a block device Linux's driver serves.
type Disk struct {
	Name       string // nvme1n1
	Path       string // /dev/nvme1n1
	PCI        string // the controller's PCI address
	Controller string // nvme1
	Sectors    uint64 // in 512-byte units, as sysfs counts
	LogicalBS  int    // logical block size in bytes
}

// Blocks is the disk's size in idl.BlockSize blocks.
func (d Disk) Blocks() uint64 { return d.Sectors * 512 / idl.BlockSize }

var (
	nsName   = regexp.MustCompile(`^nvme(\d+)n(\d+)$`)
	pathName = regexp.MustCompile(`^nvme(\d+)c\d+n(\d+)$`) // a multipath path: its head is nvme$1n$2
)

// NVMe finds the first namespace Linux's nvme driver made of the NVMe
// controller at PCI address addr. It fails if no driver (or another one)
// has the controller, or the namespace has no block device.
func (s Sysfs) NVMe(addr string) (Disk, error) {
	d := Disk{PCI: addr}
	fn := filepath.Join(s.root(), "bus/pci/devices", addr)
	ctrls, err := os.ReadDir(filepath.Join(fn, "nvme"))
	if err != nil {
		drv, _ := os.Readlink(filepath.Join(fn, "driver"))
		if drv == "" {
			return d, fmt.Errorf("linuxblk: %s has no Linux driver (%v)", addr, err)
		}
		return d, fmt.Errorf("linuxblk: %s is bound to Linux's %s driver, which made no NVMe controller of it (%v)", addr, filepath.Base(drv), err)
	}
	for _, c := range ctrls {
		ents, err := os.ReadDir(filepath.Join(fn, "nvme", c.Name()))
		if err != nil {
			continue
		}
		var names []string
		for _, e := range ents {
			if nsName.MatchString(e.Name()) {
				names = append(names, e.Name())
			} else if m := pathName.FindStringSubmatch(e.Name()); m != nil {
				names = append(names, "nvme"+m[1]+"n"+m[2])
			}
		}
		if len(names) == 0 {
			continue
		}
		d.Controller = c.Name()
		d.Name = names[0]
		for _, n := range names[1:] {
			if nsIndex(n) < nsIndex(d.Name) {
				d.Name = n
			}
		}
		return d, s.describe(&d)
	}
	return d, fmt.Errorf("linuxblk: Linux's NVMe controller at %s has no namespace with a block device", addr)
}

func nsIndex(name string) int {
	m := nsName.FindStringSubmatch(name)
	if m == nil {
		return 1 << 30
	}
	n, _ := strconv.Atoi(m[2])
	return n
}

// describe fills in d's size, block size and device node.
func (s Sysfs) describe(d *Disk) error {
	blk := filepath.Join(s.root(), "block", d.Name)
	sectors, err := readUint(filepath.Join(blk, "size"))
	if err != nil {
		return err
	}
	d.Sectors = sectors
	lbs, err := readUint(filepath.Join(blk, "queue/logical_block_size"))
	if err != nil {
		return err
	}
	d.LogicalBS = int(lbs)
	if d.LogicalBS <= 0 || idl.BlockSize%d.LogicalBS != 0 {
		return fmt.Errorf("linuxblk: %s has %d-byte logical blocks, not a divisor of %d", d.Name, d.LogicalBS, idl.BlockSize)
	}
	d.Path = filepath.Join(s.dev(), d.Name)
	if _, err := os.Stat(d.Path); err != nil {
		return fmt.Errorf("linuxblk: %s has no device node: %w", d.Name, err)
	}
	return nil
}

func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("linuxblk: %w", err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("linuxblk: %s: %w", path, err)
	}
	return v, nil
}

// A Load is one random-read measurement: Depth threads, each with one
// O_DIRECT pread of 4 KiB in flight, over blocks [Start, Start+Blocks) (all
// of the disk when Blocks is 0), for Duration or Count reads, whichever
// comes first (one of them must be set). Seed makes the block sequence
// repeatable.
type Load struct {
	Depth         int
	Start, Blocks uint64
	Duration      time.Duration
	Count         int
	Seed          uint64
}

// A Measured is what RandomRead measured: reads completed, wall time, and
// one latency per read, sorted.
type Measured struct {
	IOs     int
	Elapsed time.Duration
	Lat     []time.Duration
}

// RandomRead measures 4 KiB random reads of d under l. Latencies are per
// request.
func RandomRead(d Disk, l Load) (Measured, error) {
	var res Measured
	if l.Blocks == 0 {
		l.Start, l.Blocks = 0, d.Blocks()
	}
	switch {
	case l.Depth < 1:
		return res, fmt.Errorf("linuxblk: queue depth %d", l.Depth)
	case l.Start+l.Blocks > d.Blocks():
		return res, fmt.Errorf("linuxblk: blocks %d-%d are outside %s (%d blocks)", l.Start, l.Start+l.Blocks-1, d.Name, d.Blocks())
	case l.Duration <= 0 && l.Count <= 0:
		return res, errors.New("linuxblk: neither a duration nor a count")
	}
	fd, err := unix.Open(d.Path, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		return res, fmt.Errorf("linuxblk: opening %s with O_DIRECT: %w", d.Path, err)
	}
	defer unix.Close(fd)
	// One page-aligned 4 KiB buffer per thread, off the Go heap: O_DIRECT
	// wants the memory aligned to the logical block size.
	mem, err := unix.Mmap(-1, 0, l.Depth*idl.BlockSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return res, fmt.Errorf("linuxblk: buffers: %w", err)
	}
	defer unix.Munmap(mem)

	var (
		issued  atomic.Int64 // reads claimed, against l.Count
		stop    atomic.Bool
		wg      sync.WaitGroup
		mu      sync.Mutex
		firstEr error
		lats    = make([][]time.Duration, l.Depth)
	)
	start := time.Now()
	var end time.Time
	if l.Duration > 0 {
		end = start.Add(l.Duration)
	}
	for t := range l.Depth {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := mem[t*idl.BlockSize : (t+1)*idl.BlockSize]
			seed := l.Seed + uint64(t)*7919
			rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
			lat := make([]time.Duration, 0, 1<<12)
			defer func() { lats[t] = lat }()
			for !stop.Load() {
				if l.Count > 0 && issued.Add(1) > int64(l.Count) {
					return
				}
				off := int64(l.Start+rng.Uint64N(l.Blocks)) * idl.BlockSize
				t0 := time.Now()
				n, err := unix.Pread(fd, buf, off)
				t1 := time.Now()
				if err == nil && n != len(buf) {
					err = fmt.Errorf("short read: %d bytes", n)
				}
				if err != nil {
					mu.Lock()
					if firstEr == nil {
						firstEr = fmt.Errorf("linuxblk: reading %s at %d: %w", d.Path, off, err)
					}
					mu.Unlock()
					stop.Store(true)
					return
				}
				lat = append(lat, t1.Sub(t0))
				if !end.IsZero() && !t1.Before(end) {
					stop.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	for _, l := range lats {
		res.Lat = append(res.Lat, l...)
	}
	res.IOs = len(res.Lat)
	slices.Sort(res.Lat)
	return res, firstEr
}
