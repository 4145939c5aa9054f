package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/rlgo/redleaf/images"
	"github.com/rlgo/redleaf/vet"
)

func vetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "vet [packages]",
		Short: "Check that domain code is safe Go (no unsafe, cgo, linkname, goroutines of its own, ambient authority, kernel-only API, shared globals)",
		Long: `Checks, for linux and $GOARCH (the host's when unset), every domain package
of the repository (packages marked //rl:domain) and every package of the
module that the domain kernel (` + images.KernelPackage + `) links, or the packages
named; each by its profile: kernel/... is trusted, the composition root
(system/..., cmd/rlkernel) may not use unsafe, cgo, assembly or linkname,
everything else is a domain. rlbuild image runs the same check for the
image's architecture. Prints file:line:col: rule: what and why, and exits 1
on any violation.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := os.Getwd()
			if err != nil {
				return err
			}
			o := vet.Options{Packages: args, GOOS: "linux"}
			if len(args) == 0 {
				o.Programs = []string{images.KernelPackage}
			}
			diags, err := vet.Check(dir, o)
			if err != nil {
				return err
			}
			for _, d := range diags {
				fmt.Println(d)
			}
			if len(diags) > 0 {
				return exitError{code: 1, err: fmt.Errorf("%d violation(s) of the domain rules", len(diags))}
			}
			return nil
		},
	}
}
