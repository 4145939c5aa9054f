package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/rlgo/redleaf/images"
)

func imageCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build the kernel, initramfs, PXE bundle and disk image of a config",
		Long: `Cross-compiles the domain kernel for the configured arch, builds the
initramfs with u-root's builder, picks the Linux kernel and writes the
artifacts and manifest.json to the output directory (default out/<name>).`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().String("out", "", "output directory (config key out)")
	cmd.Flags().String("arch", "", "target arch: amd64 or arm64 (config key arch)")
	cf := addConfigFlags(cmd, map[string]string{"out": "out", "arch": "arch"})
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := cf.load(cmd)
		if err != nil {
			return err
		}
		start := time.Now()
		fmt.Fprintf(os.Stderr, "building %s (linux/%s) into %s\n", c.Name, c.Arch, rel(c.Out))
		res, err := images.Build(cmd.Context(), c, images.Options{Log: os.Stderr})
		if err != nil {
			return err
		}
		m := res.Manifest
		fmt.Fprintf(os.Stderr, "built %s in %.1fs: kernel %s, initrd %s (%s uncompressed)",
			c.Name, time.Since(start).Seconds(), m.KernelVersion, size(res.Initramfs.Size), size(res.Initramfs.CPIOSize))
		if m.Disk != "" {
			fmt.Fprintf(os.Stderr, ", disk %s", rel(m.Path(m.Disk)))
		}
		fmt.Fprintf(os.Stderr, "\nboot it: rlbuild boot --config %s --mode %s\n", cf.file, c.QEMU.Mode)
		return nil
	}
	return cmd
}

func rel(path string) string {
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, path); err == nil && filepath.IsLocal(r) {
			return r
		}
	}
	return path
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
