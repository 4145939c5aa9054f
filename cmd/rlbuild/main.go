// Command rlbuild builds RedLeaf-Go images and gets them onto machines:
// `rlbuild image` builds, `rlbuild boot` runs an image in QEMU. This
// package only wires flags and configuration to the library packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rlgo/redleaf/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{
		Use:           "rlbuild",
		Short:         "Build RedLeaf-Go images and boot them in QEMU, over the network or from USB",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.String(),
	}
	root.AddCommand(imageCmd(), bootCmd(), vetCmd(), flashCmd(), netbootCmd(), labCmd())
	root.AddCommand(fsCmds()...)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "rlbuild:", err)
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

// exitError carries a specific exit status out of a command.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }
