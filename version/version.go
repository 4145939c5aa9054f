// Package version names the build of rlbuild and of the domain kernel.
package version

import "runtime/debug"

// Version is set at link time by rlbuild (-ldflags -X) for the kernel it
// builds. When unset it falls back to the main module's version from the
// build info, then to "devel".
var Version = ""

// String returns the version of this binary.
func String() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
