package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rlgo/redleaf/lab/power"
	"github.com/rlgo/redleaf/lab/vmlab"
	"github.com/rlgo/redleaf/netboot/privnet"
)

// labMachines is what `lab power` and `lab vm` need of an inventory.
type labMachines interface {
	// PowerSpec resolves a machine's name to its power entry (Machine
	// and Firmware set).
	PowerSpec(inventory, name string) (power.Spec, error)
	// VMs returns the type-qemu machines `rlbuild lab vm` starts, and
	// the boot network's address for their bridge.
	VMs(inventory string) ([]vmlab.Machine, netip.Prefix, error)
}

// labInventory reads them through lab/inventory, the one inventory loader
// (lab.go).
var labInventory labMachines = inventoryMachines{}

// addLabPowerCommands adds `power` and `vm` to the `lab` command.
func addLabPowerCommands(lab *cobra.Command) {
	lab.AddCommand(labPowerCmd(), labVMCmd())
}

func labPowerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "power NAME on|off|cycle|status",
		Short: "Switch a lab machine on or off through its BMC, PDU or QEMU, confirmed by reading the state back",
		Long: `Powers the inventory's machine NAME through its power entry (redfish,
ipmi, pdudaemon, command or qemu) and confirms by reading the state back,
with bounded retries. --pxe makes the next boot a network boot first.
pdudaemon cannot read an outlet back: its status is "unknown".`,
		Args: cobra.ExactArgs(2),
	}
	inv := cmd.Flags().String("inventory", "", "lab inventory file (YAML)")
	pxe := cmd.Flags().Bool("pxe", false, "set a one-time network boot before on or cycle")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if *inv == "" {
			return errors.New("no inventory: pass --inventory FILE")
		}
		name, what := args[0], args[1]
		spec, err := labInventory.PowerSpec(*inv, name)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		b, err := power.Open(ctx, spec)
		if err != nil {
			return err
		}
		defer b.Close()
		if what == "status" {
			st, err := b.State(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", name, st)
			return nil
		}
		a, err := power.ParseAction(what)
		if err != nil {
			return fmt.Errorf("%w, or status", err)
		}
		if *pxe && a != power.ActionOff {
			if err := b.BootPXEOnce(ctx); err != nil {
				return err
			}
		}
		if err := b.Set(ctx, a); err != nil {
			return err
		}
		st := "accepted (this backend cannot read the state back)"
		if power.Confirms(b) {
			st = "confirmed"
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s: %s %s\n", name, a, st)
		return nil
	}
	return cmd
}

func labVMCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vm",
		Short: "Start the inventory's QEMU machines with their virtual BMCs, until interrupted",
		Long: `Starts every machine of the inventory that has a vm: entry (the lab in a
box): a QEMU VM, powered off, with a NIC on a bridge in a private network
namespace, a QMP and a serial socket, an NVMe disk if asked, and a virtual
BMC speaking Redfish and/or IPMI (RMCP+, with SOL) at the vm: entry's
addresses inside the namespace, with the credentials of its power entry.
Run the netboot server and the agent in that namespace
(ip netns exec NAME ...). Needs root.`,
		Args: cobra.NoArgs,
	}
	inv := cmd.Flags().String("inventory", "", "lab inventory file (YAML)")
	dir := cmd.Flags().String("dir", "", "directory for the VMs' sockets and disks (default: a temporary one)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *inv == "" {
			return errors.New("no inventory: pass --inventory FILE")
		}
		machines, subnet, err := labInventory.VMs(*inv)
		if err != nil {
			return err
		}
		if len(machines) == 0 {
			return fmt.Errorf("%s has no machine with a vm: entry", *inv)
		}
		ns, err := privnet.New()
		if err != nil {
			return err
		}
		defer ns.Close()
		if err := ns.AddBridge("br0", subnet); err != nil {
			return err
		}
		ctx := cmd.Context()
		log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
		lab, err := vmlab.Start(ctx, vmlab.Config{Machines: machines, NS: ns, Bridge: "br0", Dir: *dir, Log: log})
		if err != nil {
			return err
		}
		defer lab.Close()
		w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintf(w, "namespace %s, bridge br0 %s\n", ns.Name, subnet)
		fmt.Fprintln(w, "NAME\tMAC\tREDFISH\tIPMI\tQMP\tSERIAL")
		for _, vm := range lab.VMs {
			rf, ipmi := "-", "-"
			if vm.BMC != nil && vm.BMC.RedfishURL != "" {
				rf = vm.BMC.RedfishURL
			}
			if vm.BMC != nil && vm.BMC.IPMIAddr != "" {
				ipmi = vm.BMC.IPMIAddr
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", vm.Name, vm.MAC, rf, ipmi, vm.QMP, vm.Serial)
		}
		w.Flush()
		<-ctx.Done()
		return nil
	}
	return cmd
}
