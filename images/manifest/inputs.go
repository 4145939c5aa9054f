package manifest

// Inputs names what decided the bytes of a build besides the config
// (ConfigHash), the Linux kernel (KernelSource, KernelPackage) and the
// time (BuildTime, from SOURCE_DATE_EPOCH): the Go toolchain and modules,
// the domain kernel binary that came out of them, and the host packages
// whose files the build packed or that netboot serves next to it. Two
// builds whose inputs are equal give equal artifacts; when artifacts
// differ, Diff of the two manifests says which inputs did.
//
// Nothing here depends on where or by whom the build ran: no host path of
// the checkout, the caches or HOME, so a manifest is itself reproducible.
type Inputs struct {
	// Go is the toolchain that compiled /init, e.g. "go1.26.8".
	Go string `json:"go"`
	// GoSettings are the build settings /init records about itself
	// (-ldflags, -trimpath, CGO_ENABLED, GOARCH, GOAMD64, ...), sorted.
	GoSettings []Setting `json:"go_settings,omitempty"`
	// InitSHA256 is the digest of the domain kernel binary, /init: when
	// it differs, the sources or the Go inputs did.
	InitSHA256 string `json:"init_sha256"`
	// RlbuildGo is the toolchain rlbuild itself was built with; its
	// compress/gzip and encoding packages write parts of the artifacts.
	RlbuildGo string `json:"rlbuild_go"`
	// Modules are the Go modules that shaped the artifacts: compiled into
	// /init (For "init"), holding the Linux kernel (For "linux"), and
	// rlbuild's own, which write the initramfs, the disk and the Rv6 file
	// system (For "rlbuild"). Sorted by For, then Path.
	Modules []GoModule `json:"modules,omitempty"`
	// Packages are the Debian packages of the host files the build used,
	// with those files' digests: the boot loaders packed into the disk
	// (systemd-boot-efi, syslinux, syslinux-common, and mtools, which
	// syslinux runs to write the ESP) and the iPXE binaries that `rlbuild
	// netboot serve` hands to PXE clients (ipxe; not in the artifacts, but
	// part of what a netbooted machine runs). Sorted by Name.
	Packages []DebPackage `json:"packages,omitempty"`
}

// Setting is one Go build setting.
type Setting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// GoModule is a Go module at a version.
type GoModule struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	Sum     string `json:"sum,omitempty"` // go.sum hash, h1:...
	For     string `json:"for"`           // init, linux or rlbuild
}

// DebPackage is a Debian package some of whose files a build used.
type DebPackage struct {
	// Name is the package, with the architecture for a foreign one
	// ("systemd-boot-efi:arm64"); "" for files no package owns.
	Name string `json:"name"`
	// Version is the installed version ("" when dpkg does not know the
	// files: a host without dpkg, or files installed by hand).
	Version string `json:"version"`
	// For says what the build used the files for.
	For   string     `json:"for"`
	Files []HostFile `json:"files"`
}

// HostFile is a file of the build host with its digest.
type HostFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}
