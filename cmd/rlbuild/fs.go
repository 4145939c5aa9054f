package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rlgo/redleaf/rv6/fs/tools"
)

// fsCmds are the host tools for Rv6 file-system images. They use the same
// packages as the file system on the target.
func fsCmds() []*cobra.Command {
	mkfs := &cobra.Command{
		Use:   "mkfs -o FILE --size SIZE [--add HOSTPATH:PATH ...]",
		Short: "Build an Rv6 file-system image (reproducible)",
		Args:  cobra.NoArgs,
	}
	out := mkfs.Flags().StringP("output", "o", "", "image file to write (required)")
	sizeFlag := mkfs.Flags().String("size", "64MiB", "image size, e.g. 64MiB, 1GiB, 16GiB")
	adds := mkfs.Flags().StringArray("add", nil, "copy a host file or directory into the image as HOSTPATH:PATH (repeatable)")
	mkfs.RunE = func(cmd *cobra.Command, _ []string) error {
		if *out == "" {
			return fmt.Errorf("mkfs: no output file: give one with -o FILE")
		}
		size, err := parseSize(*sizeFlag)
		if err != nil {
			return fmt.Errorf("mkfs: --size %q: %v", *sizeFlag, err)
		}
		var list []tools.Add
		for _, a := range *adds {
			add, err := tools.ParseAdd(a)
			if err != nil {
				return fmt.Errorf("mkfs: --add %q: %w", a, err)
			}
			list = append(list, add)
		}
		opts := tools.MkfsOptions{}
		if s, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok {
			if opts.Time, err = strconv.ParseInt(strings.TrimSpace(s), 10, 64); err != nil {
				return fmt.Errorf("environment variable SOURCE_DATE_EPOCH=%q is not a Unix time in seconds", s)
			}
		}
		return tools.Mkfs(*out, size, list, opts)
	}

	fsck := &cobra.Command{
		Use:   "fsck FILE",
		Short: "Check an Rv6 file-system image; exit 0 only when it is consistent",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := tools.Fsck(args[0])
			if err != nil {
				return err
			}
			tools.WriteReport(os.Stdout, args[0], r)
			if !r.OK() {
				return exitError{code: 1, err: fmt.Errorf("%s is not consistent", args[0])}
			}
			return nil
		},
	}

	fsls := &cobra.Command{
		Use:   "fsls FILE [PATH]",
		Short: "List a directory of an Rv6 file-system image",
		Args:  cobra.RangeArgs(1, 2),
	}
	recursive := fsls.Flags().BoolP("recursive", "R", false, "list subdirectories too")
	fsls.RunE = func(cmd *cobra.Command, args []string) error {
		p := "/"
		if len(args) == 2 {
			p = args[1]
		}
		entries, err := tools.Ls(args[0], p, *recursive)
		if err != nil {
			return err
		}
		tools.WriteLs(os.Stdout, entries)
		return nil
	}

	fscat := &cobra.Command{
		Use:   "fscat FILE PATH",
		Short: "Print a file of an Rv6 file-system image",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return tools.Cat(args[0], args[1], os.Stdout)
		},
	}
	return []*cobra.Command{mkfs, fsck, fsls, fscat}
}

// parseSize reads sizes like 4096, 64MiB, 1GiB, 16G.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("not a size: use a number of bytes with an optional unit (KiB, MiB, GiB, TiB)")
	}
	return n * mult, nil
}
