package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/rlgo/redleaf/flash"
)

// Exit statuses of flash besides 0 and 1 (other failures).
const (
	exitRefused     = 2   // the device was refused, nothing written
	exitInterrupted = 130 // Ctrl-C, as shells report SIGINT
)

func flashCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "flash [IMAGE|ARTIFACTS_DIR] --device /dev/sdX",
		Short: "Write a disk image to a USB stick, SD card or disk, safely, fast and verified",
		Long: `Writes a disk image (raw, or compressed with gzip, zstd or xz) or the disk
image of an artifacts directory to a whole disk. Only the blocks holding
data are written (from the image's bmap, or its holes), the first MiB
last, after the rest is written and read back.

The disk must be removable (USB, SD card; loop devices are allowed),
unmounted, writable, large enough and not hold the image or the running
system. A fixed disk needs --force naming it. rlbuild shows what will be
destroyed and asks before writing, unless --yes.

  rlbuild flash --list
  rlbuild flash out/qemu/disk.img --device /dev/sdb
  rlbuild flash out/qemu --device /dev/sdb --yes`,
		Args: cobra.MaximumNArgs(1),
	}
	list := cmd.Flags().Bool("list", false, "list the disks that could be written and exit")
	device := cmd.Flags().String("device", "", "the whole disk to write, e.g. /dev/sdb")
	yes := cmd.Flags().Bool("yes", false, "write without asking for confirmation")
	dryRun := cmd.Flags().Bool("dry-run", false, "check the device and print the plan; write nothing")
	force := cmd.Flags().String("force", "", "allow writing a non-removable disk; must name the same disk as --device")
	noVerify := cmd.Flags().Bool("no-verify", false, "do not read the written data back")
	zero := cmd.Flags().Bool("zero-unmapped", false, "make the image's unmapped blocks read as zeros, writing them if the disk cannot zero them otherwise")

	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var host flash.Host
		if *list {
			devs, err := host.Devices()
			if err != nil {
				return err
			}
			return flash.WriteList(os.Stdout, devs)
		}
		if len(args) != 1 || *device == "" {
			return errors.New("flash needs an image or artifacts directory and --device (rlbuild flash --list shows the disks)")
		}
		img, err := flash.OpenImage(args[0])
		if err != nil {
			return err
		}
		defer img.Close()
		plan, err := host.Plan(img, *device, flash.PlanOptions{Force: *force, ZeroUnmapped: *zero})
		var refused *flash.RefusedError
		if errors.As(err, &refused) {
			return exitError{exitRefused, err}
		}
		if err != nil {
			return err
		}
		plan.Describe(os.Stderr)
		if *dryRun {
			fmt.Fprintln(os.Stderr, "dry run: nothing written")
			return nil
		}
		if !*yes {
			if err := flash.Confirm(os.Stdin, os.Stderr, plan); err != nil {
				return exitError{1, err}
			}
		}
		progress := flash.NewProgressPrinter(os.Stderr)
		res, err := plan.Write(cmd.Context(), flash.WriteOptions{NoVerify: *noVerify, Progress: progress.Report})
		progress.Finish()
		switch {
		case errors.As(err, &refused):
			return exitError{exitRefused, err}
		case errors.Is(err, context.Canceled):
			return exitError{exitInterrupted, err}
		case err != nil:
			return err
		}
		verified := "verified"
		if *noVerify {
			verified = "not verified (--no-verify)"
		}
		fmt.Fprintf(os.Stderr, "wrote %s to %s in %.1fs, %s", size(res.Written), plan.Device.Path, res.Total.Seconds(), verified)
		if res.Holes > 0 {
			fmt.Fprintf(os.Stderr, "; %s unmapped %s", size(res.Holes), res.HoleMethod)
		}
		fmt.Fprintln(os.Stderr)
		return nil
	}
	return cmd
}
