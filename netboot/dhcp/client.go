package dhcp

import (
	"net"
	"net/netip"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// Client is what a request tells about the machine that sent it.
type Client struct {
	// MAC is the client hardware address (chaddr), the key of leases,
	// reservations and profiles.
	MAC net.HardwareAddr
	// Arch is the first architecture of option 93; HasArch says whether
	// the option was sent. PXE clients always send it.
	Arch    iana.Arch
	HasArch bool
	// Class is option 60 as sent, e.g. "PXEClient:Arch:00007:UNDI:003016".
	Class string
	// PXE and HTTP say whether the class marks a PXE or UEFI HTTP boot
	// client.
	PXE, HTTP bool
	// IPXE says whether the client is iPXE (user class "iPXE"), which
	// must get a script, not iPXE again: that would loop.
	IPXE bool
	// Relay is the relay agent's address (giaddr) for a request that
	// crossed a router; zero if the client is on our link.
	Relay netip.Addr
	// GUID is option 97, the client machine identifier, if sent.
	GUID []byte
}

// ParseClient extracts the Client of a request. It never fails: options
// that are missing or malformed leave their fields zero.
func ParseClient(m *dhcpv4.DHCPv4) *Client {
	c := &Client{MAC: m.ClientHWAddr, Class: m.ClassIdentifier()}
	if archs := m.ClientArch(); len(archs) > 0 {
		c.Arch, c.HasArch = archs[0], true
	}
	c.PXE = strings.HasPrefix(c.Class, "PXEClient")
	c.HTTP = strings.HasPrefix(c.Class, "HTTPClient")
	// iPXE sends "iPXE" as a plain string, not in RFC 3004 form;
	// UserClass falls back to the raw option for that.
	for _, uc := range m.UserClass() {
		if uc == "iPXE" {
			c.IPXE = true
		}
	}
	if a, ok := netip.AddrFromSlice(m.GatewayIPAddr); ok {
		if a = a.Unmap(); a.Is4() && !a.IsUnspecified() {
			c.Relay = a
		}
	}
	if g := m.Options.Get(dhcpv4.OptionClientMachineIdentifier); len(g) > 0 {
		c.GUID = g
	}
	return c
}

// Netboot reports whether the client asks to boot from the network.
func (c *Client) Netboot() bool { return c.PXE || c.HTTP || c.IPXE }

// Firmware names the kind of boot firmware the client's architecture
// stands for: "bios", "efi-x86_64", "efi-arm64", "efi-x86_64-http",
// "efi-arm64-http", "efi-ia32", or "" for anything else (and for a client
// that sent no architecture). EFI BC (9) counts as x86-64: that is what
// firmware sending it runs in practice.
func (c *Client) Firmware() string {
	if !c.HasArch {
		return ""
	}
	switch c.Arch {
	case iana.INTEL_X86PC:
		return "bios"
	case iana.EFI_X86_64, iana.EFI_BC:
		return "efi-x86_64"
	case iana.EFI_ARM64:
		return "efi-arm64"
	case iana.EFI_X86_64_HTTP, iana.EFI_BC_HTTP:
		return "efi-x86_64-http"
	case iana.EFI_ARM64_HTTP:
		return "efi-arm64-http"
	case iana.EFI_IA32:
		return "efi-ia32"
	}
	return ""
}

// Boot is what a client boots.
type Boot struct {
	// File is a TFTP file name for PXE clients or a URL for iPXE and
	// UEFI HTTP boot clients. Empty means no network boot: in full mode
	// the client still gets an address, in proxy mode no answer.
	File string
	// Note says why File is empty, for the log.
	Note string
}

// Policy decides, per client, whether it is served and what it boots.
// It is consulted on every request, so a policy that reloads its
// configuration takes effect at once.
type Policy interface {
	// Boot returns what c boots; ok false means c is not served at all
	// (an unknown machine when unknown ones are denied).
	Boot(c *Client) (b Boot, ok bool)
	// Reservation returns the address reserved for mac, if any.
	Reservation(mac net.HardwareAddr) (netip.Addr, bool)
	// ReservedFor returns the client an address is reserved for, if
	// any; the pool never hands it to anyone else.
	ReservedFor(ip netip.Addr) (net.HardwareAddr, bool)
}
