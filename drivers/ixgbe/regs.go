package ixgbe

// Registers of the 82599 (Intel 82599 10 GbE Controller Datasheet, section
// 8.2.3), by byte offset in BAR 0. Per-queue registers are functions of the
// queue number; the driver uses queues 0..63, whose registers are in the low
// ranges.
const (
	regCTRL      = 0x00000 // device control
	regSTATUS    = 0x00008
	regCTRLEXT   = 0x00018 // extended device control
	regEICR      = 0x00800 // interrupt cause
	regEIMC      = 0x00888 // interrupt mask clear
	regRDRXCTL   = 0x02F00 // receive DMA control
	regRXCTRL    = 0x03000 // receive control
	regCRCERRS   = 0x04000 // CRC errors (clear on read)
	regRLEC      = 0x04040 // receive length errors (clear on read)
	regGPRC      = 0x04074 // good packets received (clear on read)
	regGPTC      = 0x04080 // good packets transmitted (clear on read)
	regGORCL     = 0x04088 // good octets received, low 32 bits (clear on read)
	regGORCH     = 0x0408C // and high 4 bits (clear on read)
	regGOTCL     = 0x04090 // good octets transmitted, low
	regGOTCH     = 0x04094 // and high
	regHLREG0    = 0x04240 // MAC core control 0
	regAUTOC     = 0x042A0 // auto-negotiation control
	regLINKS     = 0x042A4 // link status
	regRTTDCS    = 0x04900 // DCB transmit descriptor plane control
	regDMATXCTL  = 0x04A80 // DMA transmit control
	regFCTRL     = 0x05080 // filter control
	regDTXMXSZRQ = 0x08100 // DMA TX maximum total allowed size requests
	regEEC       = 0x10010 // EEPROM/flash control
	regRAL0      = 0x0A200 // receive address low, entry 0 (the MAC)
	regRAH0      = 0x0A204 // receive address high, entry 0
)

func regMPC(i int) int      { return 0x03FA0 + 4*i } // missed packets, per packet buffer (clear on read)
func regRXPBSIZE(i int) int { return 0x03C00 + 4*i } // RX packet buffer size
func regTXPBSIZE(i int) int { return 0x0CC00 + 4*i } // TX packet buffer size

// Receive queue registers, queues 0..63.
func regRDBAL(q int) int     { return 0x01000 + 0x40*q } // RDBAH follows: written as one 64-bit pair
func regRDLEN(q int) int     { return 0x01008 + 0x40*q }
func regDCARXCTRL(q int) int { return 0x0100C + 0x40*q }
func regRDH(q int) int       { return 0x01010 + 0x40*q }
func regSRRCTL(q int) int    { return 0x01014 + 0x40*q }
func regRDT(q int) int       { return 0x01018 + 0x40*q }
func regRXDCTL(q int) int    { return 0x01028 + 0x40*q }

// Transmit queue registers, queues 0..127.
func regTDBAL(q int) int  { return 0x06000 + 0x40*q } // TDBAH follows: written as one 64-bit pair
func regTDLEN(q int) int  { return 0x06008 + 0x40*q }
func regTDH(q int) int    { return 0x06010 + 0x40*q }
func regTDT(q int) int    { return 0x06018 + 0x40*q }
func regTXDCTL(q int) int { return 0x06028 + 0x40*q }

// Register bits.
const (
	ctrlLinkReset = 1 << 3  // CTRL.LNK_RST
	ctrlReset     = 1 << 26 // CTRL.RST (self-clearing)
	ctrlResetMask = ctrlLinkReset | ctrlReset

	ctrlExtNSDis = 1 << 16 // CTRL_EXT.NS_DIS: no snoop disable

	eecARD = 1 << 9 // EEC.AUTO_RD: EEPROM auto-read done

	rdrxctlCRCStrip     = 1 << 1
	rdrxctlDMAIDone     = 1 << 3
	rdrxctlRSCFrstSize  = 0x1f << 17
	rxctrlRXEN          = 1 << 0
	hlreg0TXCRCEN       = 1 << 0
	hlreg0RXCRCSTRP     = 1 << 1
	hlreg0TXPADEN       = 1 << 10
	hlreg0LPBK          = 1 << 15
	autocFLU            = 1 << 0 // force link up
	autocANRestart      = 1 << 12
	autocLMSMask        = 7 << 13
	autocLMS10GNoAN     = 1 << 13 // 10 Gb/s link, no autonegotiation
	autocLMS10GSerial   = 3 << 13 // 10 Gb/s serial link with autonegotiation (SFI, X520)
	autocPMAPMDMask     = 3 << 7
	autocPMAPMDXAUI     = 0 << 7
	linksUp             = 1 << 30
	linksSpeedMask      = 3 << 28
	linksSpeed10G       = 3 << 28
	linksSpeed1G        = 2 << 28
	linksSpeed100M      = 1 << 28
	rttdcsARBDIS        = 1 << 6
	dmatxctlTE          = 1 << 0
	fctrlMPE            = 1 << 8  // multicast promiscuous
	fctrlUPE            = 1 << 9  // unicast promiscuous
	fctrlBAM            = 1 << 10 // accept broadcast
	srrctlBSizePktMask  = 0x1f    // packet buffer size, 1 KiB units
	srrctlDescTypeMask  = 7 << 25
	srrctlDescAdvOneBuf = 1 << 25
	srrctlDropEn        = 1 << 28
	dcaRxCtrlReserved12 = 1 << 12 // reserved, resets to 1, must be cleared (datasheet 4.6.7)
	qctlEnable          = 1 << 25 // RXDCTL.ENABLE, TXDCTL.ENABLE

	rxpbSize128K = 128 << 10
	txpbSize40K  = 40 << 10

	// TXDCTL thresholds: prefetch 36, host 8, write-back 4 (DPDK's, ixy's).
	txdctlThresholds = 36 | 8<<8 | 4<<16
	txdctlThreshMask = 0x7f | 0x7f<<8 | 0x7f<<16
)

// Advanced descriptors (16 bytes; datasheet 7.1.6 and 7.2.3.2.4).
const (
	descSize = 16

	// Receive write-back, the 32-bit word at offset 8: status (19:0) and
	// errors (31:20); the packet length is the 16-bit field at offset 12.
	rxStatDD  = 1 << 0
	rxStatEOP = 1 << 1
	rxErrRXE  = 1 << 29 // MAC error (CRC, length, ...)

	// Transmit data descriptor, read format: buffer address at 0,
	// cmd_type_len at 8, olinfo_status at 12. Write-back: status at 12.
	txDTypData    = 3 << 20
	txCmdEOP      = 1 << 24
	txCmdIFCS     = 1 << 25 // insert the FCS (CRC)
	txCmdRS       = 1 << 27 // report status: write DD back
	txCmdDEXT     = 1 << 29 // advanced descriptor
	txPaylenShift = 14
	txStatDD      = 1 << 0

	txCmd = txDTypData | txCmdEOP | txCmdIFCS | txCmdRS | txCmdDEXT
)
