package pci

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// Format writes devs as lspci's table: address, IDs, class, and who drives
// each: the domain owner names (owner may be nil or return ""), else the
// Linux driver, else "-".
func Format(w io.Writer, devs []Device, owner func(addr string) string) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tID\tCLASS\tDRIVER")
	for _, d := range devs {
		by := "-"
		if o := ""; owner != nil {
			if o = owner(d.Addr); o != "" {
				by = "domain " + o
			}
		}
		if by == "-" && d.Driver != "" {
			by = "linux " + d.Driver
		}
		fmt.Fprintf(tw, "%s\t%04x:%04x\t%s\t%s\n", d.Addr, d.Vendor, d.DeviceID, d.ClassName(), by)
	}
	return tw.Flush()
}
