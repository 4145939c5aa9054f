package nvme

import (
	"testing"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/dma"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/rref"
)

// model is an in-process model of an NVMe controller's queues: enough of
// the register file, admin commands and doorbell semantics to run the
// driver, completing each command as soon as its doorbell is written. It
// measures the driver's CPU cost without a device.
type model struct {
	ram    []byte // "physical" memory from ramBase
	dma    *dma.Allocator
	disk   []byte
	regs   [0x1000 / 4]uint32
	sq, cq [65]mq
	nsBlks uint64
}

type mq struct {
	base       uint64
	size       int
	head, tail int
	cqid       int
	phase      uint32
}

const ramBase = 0x4000_0000

func newModel(blocks int) *model {
	m := &model{ram: make([]byte, 64<<20), disk: make([]byte, blocks*4096), nsBlks: uint64(blocks)}
	m.dma = dma.NewContiguous(m.ram, ramBase)
	m.regs[0] = 1023 | 1<<16 | 1<<24 // MQES 1023, CQR, TO 500 ms
	return m
}

func (m *model) mem(phys uint64, n int) []byte { return m.ram[phys-ramBase : phys-ramBase+uint64(n)] }

// hw.PCIDevice
func (m *model) Addr() string             { return "model" }
func (m *model) IDs() (uint16, uint16)    { return 0x1b36, 0x0010 }
func (m *model) BAR(int) (hw.Regs, error) { return m, nil }
func (m *model) DMA() hw.DMA              { return m.dma }
func (m *model) Command() (uint16, error) { return hw.CmdMemory | hw.CmdBusMaster, nil }
func (m *model) Reset()                   { m.dma.Reset() }
func (m *model) Len() int                 { return 0x2000 }
func (m *model) Read32(off int) uint32 {
	if off >= 0x1000 {
		return 0
	}
	return m.regs[off/4]
}

func (m *model) Write32(off int, v uint32) {
	if off < 0x1000 {
		m.regs[off/4] = v
		if off == regCC {
			if v&ccEN != 0 {
				m.sq[0] = mq{base: uint64(m.regs[regASQ/4]) | uint64(m.regs[regASQ/4+1])<<32, size: int(m.regs[regAQA/4]&0xfff) + 1}
				m.cq[0] = mq{base: uint64(m.regs[regACQ/4]) | uint64(m.regs[regACQ/4+1])<<32, size: int(m.regs[regAQA/4]>>16&0xfff) + 1, phase: 1}
				m.regs[regCSTS/4] = cstsRDY
			} else {
				m.regs[regCSTS/4] = 0
			}
		}
		return
	}
	db := (off - 0x1000) / 4
	qid := db / 2
	if db%2 == 1 {
		m.cq[qid].head = int(v)
		return
	}
	q := &m.sq[qid]
	q.tail = int(v)
	for q.head != q.tail {
		e := m.mem(q.base+uint64(q.head*64), 64)
		q.head = (q.head + 1) % q.size
		status, dw0 := m.exec(qid, e)
		cq := &m.cq[q.cqid]
		c := m.mem(cq.base+uint64(cq.tail*16), 16)
		le32(c, 0, dw0)
		le32(c, 8, uint32(q.head)|uint32(qid)<<16)
		le32(c, 12, uint32(e[2])|uint32(e[3])<<8|(cq.phase|uint32(status)<<1)<<16)
		if cq.tail++; cq.tail == cq.size {
			cq.tail, cq.phase = 0, cq.phase^1
		}
	}
}

func le32(b []byte, off int, v uint32) {
	b[off], b[off+1], b[off+2], b[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

func get32(b []byte, off int) uint32 {
	return uint32(b[off]) | uint32(b[off+1])<<8 | uint32(b[off+2])<<16 | uint32(b[off+3])<<24
}

func get64(b []byte, off int) uint64 { return uint64(get32(b, off)) | uint64(get32(b, off+4))<<32 }

// exec runs one command and returns its status field and dword 0.
func (m *model) exec(qid int, e []byte) (uint16, uint32) {
	op, prp1 := e[0], get64(e, 24)
	cdw10, cdw11 := get32(e, 40), get32(e, 44)
	if qid == 0 {
		switch op {
		case opIdentify:
			d := m.mem(prp1, 4096)
			clear(d)
			switch cdw10 {
			case 1:
				d[0], d[1], d[77] = 0x36, 0x1b, 7
				le32(d, 516, 1)
			case 2:
				le32(d, 0, 1)
			case 0:
				le32(d, 0, uint32(m.nsBlks))
				d[128+2] = 12
			}
		case opSetFeatures:
			return 0, 3 | 3<<16
		case opCreateCQ:
			m.cq[cdw10&0xffff] = mq{base: prp1, size: int(cdw10>>16) + 1, phase: 1}
		case opCreateSQ:
			m.sq[cdw10&0xffff] = mq{base: prp1, size: int(cdw10>>16) + 1, cqid: int(cdw11 >> 16)}
		default:
			return 1, 0
		}
		return 0, 0
	}
	slba := get64(e, 40)
	if slba >= m.nsBlks {
		return SCLBAOutOfRange, 0
	}
	switch op {
	case OpRead:
		copy(m.mem(prp1, 4096), m.disk[slba*4096:])
	case OpWrite:
		copy(m.disk[slba*4096:], m.mem(prp1, 4096))
	case OpFlush:
	default:
		return SCInvalidOpcode, 0
	}
	return 0, 0
}

func modelDisk(tb testing.TB) (*domain.Manager, idl.BlockDevice) {
	mgr := domain.NewManager()
	tb.Cleanup(mgr.Close)
	d, err := mgr.Create(Kind, domain.GrantDevice(GrantPCI, hw.PCIDevice(newModel(1024))), domain.GrantDevice(GrantConfig, Config{Depth: 64}))
	if err != nil {
		tb.Fatal(err)
	}
	disk, err := domain.Connect[idl.BlockDevice](mgr.Kernel(), d)
	if err != nil {
		tb.Fatal(err)
	}
	return mgr, disk
}

func newBatch(heap *rref.Account, n int) rref.Deque[idl.BlockReq] {
	q := rref.NewDeque[idl.BlockReq](heap, n)
	for i := range n {
		q.PushBack(rref.New(heap, idl.BlockReq{LBA: uint64(i * 7 % 1024)}))
	}
	return q
}

func TestModelNoAllocation(t *testing.T) {
	mgr, disk := modelDisk(t)
	q := newBatch(mgr.Kernel().Heap(), 32)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if q, err = disk.Write(q); err != nil {
			t.Fatal(err)
		}
		if q, err = disk.Read(q); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per batch", allocs)
	}
	for range q.Len() {
		r, _ := q.PopFront()
		if r.Get().Status != idl.BlockOK {
			t.Fatalf("status %d", r.Get().Status)
		}
		q.PushBack(r)
	}
}

// BenchmarkIO is the CPU cost of one 4 KiB I/O submitted and completed
// through the driver against the in-process queue model, at batch sizes 1
// and 32 (the model's own cost, a 4 KiB copy per command, included).
func BenchmarkIO(b *testing.B) {
	for _, n := range []int{1, 32} {
		for _, op := range []string{"read", "write"} {
			b.Run(op+"/batch"+map[int]string{1: "1", 32: "32"}[n], func(b *testing.B) {
				mgr, disk := modelDisk(b)
				do := disk.Read
				if op == "write" {
					do = disk.Write
				}
				q := newBatch(mgr.Kernel().Heap(), n)
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					var err error
					if q, err = do(q); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/io")
			})
		}
	}
}
