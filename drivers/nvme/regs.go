package nvme

// Controller registers (NVMe 1.4, section 3.1).
const (
	regCAP  = 0x00 // capabilities (64-bit)
	regVS   = 0x08 // version
	regCC   = 0x14 // configuration
	regCSTS = 0x1c // status
	regAQA  = 0x24 // admin queue attributes
	regASQ  = 0x28 // admin SQ base (64-bit)
	regACQ  = 0x30 // admin CQ base (64-bit)
	regDB   = 0x1000
)

// CC and CSTS bits.
const (
	ccEN      = 1 << 0
	ccIOSQES  = 6 << 16 // 64-byte SQ entries
	ccIOCQES  = 4 << 20 // 16-byte CQ entries
	cstsRDY   = 1 << 0
	cstsCFS   = 1 << 1
	pageSize  = 4096 // the memory page size the driver sets (CC.MPS 0)
	sqeSize   = 64
	cqeSize   = 16
	adminSize = 64 // admin queue entries
)

// Admin opcodes.
const (
	opDeleteSQ    = 0x00
	opCreateSQ    = 0x01
	opDeleteCQ    = 0x04
	opCreateCQ    = 0x05
	opIdentify    = 0x06
	opSetFeatures = 0x09
	featNumQueues = 0x07
)

// I/O opcodes.
const (
	OpFlush = 0x00
	OpWrite = 0x01
	OpRead  = 0x02
)

// capability is CAP decoded.
type capability struct {
	mqes   int    // maximum queue entries (1-based)
	cqr    bool   // queues must be physically contiguous
	to     uint32 // timeout for CSTS.RDY changes, in 500 ms units
	dstrd  uint32 // doorbell stride: 4 << dstrd bytes
	mpsmin uint32 // minimum page size 4 KiB << mpsmin
}

func decodeCAP(v uint64) capability {
	return capability{
		mqes:   int(v&0xffff) + 1,
		cqr:    v>>16&1 != 0,
		to:     uint32(v >> 24 & 0xff),
		dstrd:  uint32(v >> 32 & 0xf),
		mpsmin: uint32(v >> 48 & 0xf),
	}
}
