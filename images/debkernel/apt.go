package debkernel

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"runtime"
	"strings"
)

// apt runs apt-get with args in dir and returns its standard output; its
// error carries the first line apt-get printed about the failure.
func apt(ctx context.Context, dir string, args ...string) (string, error) {
	bin, err := exec.LookPath("apt-get")
	if err != nil {
		return "", errNoApt
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"-q"}, args...)...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		for _, l := range strings.Split(stderr.String(), "\n") {
			if strings.HasPrefix(l, "E: ") {
				return "", errors.New(strings.TrimPrefix(l, "E: "))
			}
		}
		if s := strings.TrimSpace(stderr.String()); s != "" {
			return "", errors.New(s)
		}
		return "", err
	}
	return stdout.String(), nil
}

// hostArch is the host's Debian architecture, which apt-get downloads by
// default.
func hostArch() string {
	if out, err := exec.Command("dpkg", "--print-architecture").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	return runtime.GOARCH
}
