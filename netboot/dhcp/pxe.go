package dhcp

import (
	"net"
	"net/netip"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// withBoot adds the boot information to a reply for a netboot client:
// the boot file (field and option 67, which holds longer URLs), the next
// server for TFTP (siaddr, option 66) and the class (option 60), which
// UEFI firmware requires to match its own: "HTTPClient" for HTTP boot,
// "PXEClient" otherwise. Option 97 is echoed as the PXE specification
// asks. BIOS PXE ROMs other than iPXE get the vendor options (43) that
// make them boot the file at once instead of running boot server
// discovery.
func withBoot(resp, req *dhcpv4.DHCPv4, c *Client, boot Boot, server netip.Addr) {
	url := strings.Contains(boot.File, "://")
	resp.BootFileName = boot.File
	if len(boot.File) > 127 {
		// The field holds 127 bytes; clients read option 67 first.
		resp.BootFileName = ""
	}
	resp.UpdateOption(dhcpv4.OptBootFileName(boot.File))
	// The next server is set even for a URL: iPXE takes a reply as
	// carrying boot information only with both siaddr and a file, and
	// without it asks port 4011 again and again before going on.
	resp.ServerIPAddr = server.AsSlice()
	if !url {
		resp.UpdateOption(dhcpv4.OptTFTPServerName(server.String()))
	}
	switch {
	case c.HTTP:
		resp.UpdateOption(dhcpv4.OptClassIdentifier("HTTPClient"))
	case c.PXE:
		resp.UpdateOption(dhcpv4.OptClassIdentifier("PXEClient"))
	}
	if len(c.GUID) > 0 {
		resp.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionClientMachineIdentifier, c.GUID))
	}
	if c.PXE && !c.IPXE && c.HasArch && c.Arch == iana.INTEL_X86PC {
		resp.UpdateOption(dhcpv4.OptGeneric(dhcpv4.OptionVendorSpecificInformation, pxeVendorOptions(server.AsSlice())))
	}
}

// pxeVendorOptions encodes option 43 for BIOS PXE clients (PXE
// specification, table 2-1): discovery control 8 (boot the file in the
// offer, skip discovery), one boot server (ourselves) and a one-item menu
// with a prompt that times out at once: some ROMs refuse a proxy offer
// without a menu.
func pxeVendorOptions(server net.IP) []byte {
	ip := server.To4()
	const label = "RedLeaf netboot"
	var b []byte
	b = append(b, 6, 1, 8)                                             // PXE_DISCOVERY_CONTROL
	b = append(b, 8, 7, 0x80, 0x00, 1, ip[0], ip[1], ip[2], ip[3])     // PXE_BOOT_SERVERS: type 0x8000, 1 address
	b = append(b, 9, byte(3+len(label)), 0x80, 0x00, byte(len(label))) // PXE_BOOT_MENU
	b = append(b, label...)
	b = append(b, 10, byte(1+len(label)), 0) // PXE_MENU_PROMPT: timeout 0
	b = append(b, label...)
	return append(b, 255)
}
