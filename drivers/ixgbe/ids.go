package ixgbe

// VendorIntel is Intel's PCI vendor ID.
const VendorIntel = 0x8086

// A Model is a PCI device ID this driver binds to.
type Model struct {
	Device uint16
	Name   string
}

// Models are the 82599 family and the X520/X540 adapters built on it or
// register-compatible with it for everything this driver does (reset,
// EEPROM and DMA-init waits, RX/TX rings, LINKS, the statistics it reads).
// Link setup differs on X540 (copper, internal PHY): AUTOC is written the
// same way, but autonegotiation is the PHY's. Virtual functions (SR-IOV)
// are not here: they have another register map.
var Models = []Model{
	{0x10F7, "82599 KX4"},
	{0x1514, "82599 KX4 Mezzanine"},
	{0x1517, "82599 KR"},
	{0x10F8, "82599 Combined Backplane"},
	{0x000C, "82599 Bypass"},
	{0x10F9, "82599 CX4"},
	{0x10FB, "82599 SFP (X520-DA2, X520-SR1/SR2/LR1)"},
	{0x152A, "82599 Backplane FCoE"},
	{0x1529, "82599 SFP FCoE"},
	{0x1507, "82599 SFP EM"},
	{0x154D, "82599 SFP SF2"},
	{0x154A, "82599 SFP SF QP (X520-QDA1... quad port)"},
	{0x1558, "82599 QSFP SF QP"},
	{0x1557, "82599EN SFP (X520-DA1)"},
	{0x10FC, "82599 XAUI LOM"},
	{0x151C, "82599 T3 LOM (X520-T2)"},
	{0x154F, "82599 LS"},
	{0x1528, "X540-T (X540-T1/T2)"},
	{0x1560, "X540-T1"},
}

// Lookup reports whether the driver binds to the PCI function vendor:device
// and names the model.
func Lookup(vendor, device uint16) (Model, bool) {
	if vendor != VendorIntel {
		return Model{}, false
	}
	for _, m := range Models {
		if m.Device == device {
			return m, true
		}
	}
	return Model{}, false
}
