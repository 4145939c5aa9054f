package model

import "fmt"

// Register offsets and bits of the 82599, from the datasheet (section
// 8.2.3), written down again here rather than shared with the driver, so
// that a wrong constant in one of them shows up as a disagreement.
const (
	CTRL      = 0x00000
	STATUS    = 0x00008
	CTRLEXT   = 0x00018
	EICR      = 0x00800
	EIMS      = 0x00880
	EIMC      = 0x00888
	RDRXCTL   = 0x02F00
	RXCTRL    = 0x03000
	CRCERRS   = 0x04000
	RLEC      = 0x04040
	GPRC      = 0x04074
	GPTC      = 0x04080
	GORCL     = 0x04088
	GORCH     = 0x0408C
	GOTCL     = 0x04090
	GOTCH     = 0x04094
	HLREG0    = 0x04240
	AUTOC     = 0x042A0
	LINKS     = 0x042A4
	RTTDCS    = 0x04900
	DMATXCTL  = 0x04A80
	FCTRL     = 0x05080
	DTXMXSZRQ = 0x08100
	RAL0      = 0x0A200
	RAH0      = 0x0A204
	EEC       = 0x10010

	BARSize = 0x20000 // 128 KiB
)

// Per-queue and per-buffer registers.
func MPC(i int) int      { return 0x03FA0 + 4*i }
func RXPBSIZE(i int) int { return 0x03C00 + 4*i }
func TXPBSIZE(i int) int { return 0x0CC00 + 4*i }
func RDBAL(q int) int    { return 0x01000 + 0x40*q }
func RDBAH(q int) int    { return 0x01004 + 0x40*q }
func RDLEN(q int) int    { return 0x01008 + 0x40*q }
func DCARX(q int) int    { return 0x0100C + 0x40*q }
func RDH(q int) int      { return 0x01010 + 0x40*q }
func SRRCTL(q int) int   { return 0x01014 + 0x40*q }
func RDT(q int) int      { return 0x01018 + 0x40*q }
func RXDCTL(q int) int   { return 0x01028 + 0x40*q }
func QPRC(q int) int     { return 0x01030 + 0x40*q }
func TDBAL(q int) int    { return 0x06000 + 0x40*q }
func TDBAH(q int) int    { return 0x06004 + 0x40*q }
func TDLEN(q int) int    { return 0x06008 + 0x40*q }
func TDH(q int) int      { return 0x06010 + 0x40*q }
func TDT(q int) int      { return 0x06018 + 0x40*q }
func TXDCTL(q int) int   { return 0x06028 + 0x40*q }

// Bits.
const (
	ctrlLinkReset   = 1 << 3
	ctrlReset       = 1 << 26
	eecPresent      = 1 << 8
	eecARD          = 1 << 9
	rdrxctlDMAIDone = 1 << 3
	rxctrlRXEN      = 1 << 0
	hlreg0LPBK      = 1 << 15
	autocFLU        = 1 << 0
	autocANRestart  = 1 << 12
	linksUp         = 1 << 30
	linksSpeed10G   = 3 << 28
	dmatxctlTE      = 1 << 0
	fctrlMPE        = 1 << 8
	fctrlUPE        = 1 << 9
	fctrlBAM        = 1 << 10
	srrctlBSizeMask = 0x1f
	srrctlDescMask  = 7 << 25
	srrctlAdvOneBuf = 1 << 25
	srrctlDropEn    = 1 << 28
	qctlEnable      = 1 << 25

	rxStatDD  = 1 << 0
	rxStatEOP = 1 << 1
	rxErrRXE  = 1 << 29

	txDTypMask  = 0xf << 20
	txDTypData  = 3 << 20
	txCmdEOP    = 1 << 24
	txCmdIFCS   = 1 << 25
	txCmdRS     = 1 << 27
	txCmdDEXT   = 1 << 29
	txStatDD    = 1 << 0
	txPaylenSh  = 14
	descSize    = 16
	maxQueues   = 64
	maxRingSize = 65536 // RDLEN is 20 bits: 1 MiB of descriptors
)

var names = map[int]string{
	CTRL: "CTRL", STATUS: "STATUS", CTRLEXT: "CTRL_EXT", EICR: "EICR", EIMS: "EIMS", EIMC: "EIMC",
	RDRXCTL: "RDRXCTL", RXCTRL: "RXCTRL", CRCERRS: "CRCERRS", RLEC: "RLEC", GPRC: "GPRC", GPTC: "GPTC",
	GORCL: "GORCL", GORCH: "GORCH", GOTCL: "GOTCL", GOTCH: "GOTCH", HLREG0: "HLREG0", AUTOC: "AUTOC",
	LINKS: "LINKS", RTTDCS: "RTTDCS", DMATXCTL: "DMATXCTL", FCTRL: "FCTRL", DTXMXSZRQ: "DTXMXSZRQ",
	RAL0: "RAL(0)", RAH0: "RAH(0)", EEC: "EEC",
}

// Name is the datasheet's name of the register at off ("RDT(3)").
func Name(off int) string {
	if n, ok := names[off]; ok {
		return n
	}
	switch {
	case off >= 0x03FA0 && off < 0x03FC0:
		return fmt.Sprintf("MPC(%d)", (off-0x03FA0)/4)
	case off >= 0x03C00 && off < 0x03C20:
		return fmt.Sprintf("RXPBSIZE(%d)", (off-0x03C00)/4)
	case off >= 0x0CC00 && off < 0x0CC20:
		return fmt.Sprintf("TXPBSIZE(%d)", (off-0x0CC00)/4)
	case off >= 0x01000 && off < 0x01000+0x40*maxQueues:
		q, r := (off-0x01000)/0x40, (off-0x01000)%0x40
		if n, ok := map[int]string{0: "RDBAL", 4: "RDBAH", 8: "RDLEN", 0xc: "DCA_RXCTRL", 0x10: "RDH", 0x14: "SRRCTL", 0x18: "RDT", 0x28: "RXDCTL", 0x30: "QPRC"}[r]; ok {
			return fmt.Sprintf("%s(%d)", n, q)
		}
	case off >= 0x06000 && off < 0x06000+0x40*maxQueues:
		q, r := (off-0x06000)/0x40, (off-0x06000)%0x40
		if n, ok := map[int]string{0: "TDBAL", 4: "TDBAH", 8: "TDLEN", 0x10: "TDH", 0x18: "TDT", 0x28: "TXDCTL"}[r]; ok {
			return fmt.Sprintf("%s(%d)", n, q)
		}
	}
	return fmt.Sprintf("%#05x", off)
}
