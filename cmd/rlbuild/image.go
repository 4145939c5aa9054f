package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/rlgo/redleaf/images"
	"github.com/rlgo/redleaf/images/manifest"
)

func imageCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build the kernel, initramfs, PXE bundle and disk image of a config",
		Long: `Cross-compiles the domain kernel for the configured arch, builds the
initramfs with u-root's builder, picks the Linux kernel and writes the
artifacts and manifest.json to the output directory (default out/<name>).

With --explain-diff A B it builds nothing: it compares two builds (artifacts
directories or manifest.json files) and prints which recorded inputs (Go
toolchain and modules, host packages, config, kernel, time) and which
artifacts differ. Exit status 0 when they are the same build, 1 when they
differ, 2 when a manifest cannot be read.`,
		Example: `  rlbuild image --config configs/qemu.yaml --out out/qemu
  rlbuild image --explain-diff out/qemu /mnt/ci/qemu/manifest.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if explain, _ := cmd.Flags().GetBool("explain-diff"); explain {
				if len(args) != 2 {
					return fmt.Errorf("--explain-diff takes two builds, A and B (artifacts directories or manifest.json files); got %d argument(s)", len(args))
				}
				return nil
			}
			return cobra.NoArgs(cmd, args)
		},
	}
	cmd.Flags().String("out", "", "output directory (config key out)")
	cmd.Flags().String("arch", "", "target arch: amd64 or arm64 (config key arch)")
	cmd.Flags().Bool("explain-diff", false, "compare two builds A B (directories or manifest.json files) instead of building")
	cf := addConfigFlags(cmd, map[string]string{"out": "out", "arch": "arch"})
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if explain, _ := cmd.Flags().GetBool("explain-diff"); explain {
			return explainDiff(cmd, args[0], args[1])
		}
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

// explainDiff prints how the builds A and B differ.
func explainDiff(cmd *cobra.Command, a, b string) error {
	ma, err := manifest.Load(a)
	if err != nil {
		return exitError{2, fmt.Errorf("build A: %w", err)}
	}
	mb, err := manifest.Load(b)
	if err != nil {
		return exitError{2, fmt.Errorf("build B: %w", err)}
	}
	c := manifest.Compare(ma, mb)
	if err := c.Write(cmd.OutOrStdout(), a, b); err != nil {
		return err
	}
	if !c.Same() {
		return exitError{1, errors.New("the builds differ")}
	}
	return nil
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
