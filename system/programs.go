package system

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/rlgo/redleaf/kernel/boot"
	"github.com/rlgo/redleaf/system/sh"
)

// programDirs are searched for programs the shell has no command for: the
// u-root commands of initramfs.commands land in /bbin, extra files
// wherever the config put them.
var programDirs = []string{"/bbin", "/bin", "/sbin", "/usr/bin"}

// programs lets the shell run the initramfs's executables, a debugging
// aid. They run as child processes started through the reaper, so their
// exit status is not lost to it.
func programs(k *boot.Kernel, console io.Reader) func(string) (sh.Command, bool) {
	return func(name string) (sh.Command, bool) {
		path, ok := findProgram(name)
		if !ok {
			return nil, false
		}
		return sh.Func(func(ctx context.Context, p *sh.Proc) int {
			cmd := exec.CommandContext(ctx, path, p.Args[1:]...)
			cmd.Args[0] = name // u-root's busybox dispatches on argv[0]
			cmd.Env = p.Environ()
			cmd.Stdin = p.Stdin
			if p.Stdin == console {
				cmd.Stdin = os.Stdin // no copying goroutine left reading the console
			}
			cmd.Stdout, cmd.Stderr = p.Stdout, p.Stderr
			err := k.Reaper.Run(cmd)
			var ee *exec.ExitError
			switch {
			case err == nil:
				return 0
			case errors.As(err, &ee):
				if code := ee.ExitCode(); code >= 0 {
					return code
				}
				return 128 + 9
			default:
				p.Errorf("%v", err)
				return 126
			}
		}), true
	}
}

func findProgram(name string) (string, bool) {
	candidates := []string{name}
	if !strings.Contains(name, "/") {
		candidates = candidates[:0]
		for _, d := range programDirs {
			candidates = append(candidates, filepath.Join(d, name))
		}
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return c, true
		}
	}
	return "", false
}
