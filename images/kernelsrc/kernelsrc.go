// Package kernelsrc finds the Linux kernel an image boots: a Go module that
// carries a vmlinuz (by default github.com/gokrazy/kernel.<arch> at the
// version go.mod pins, fetched through the module proxy into the module
// cache) or a kernel file. It checks that the file is a kernel for the
// target arch and reads its version.
package kernelsrc

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	// The default kernels are pinned in go.mod through these imports; the
	// packages are empty.
	_ "github.com/gokrazy/kernel.amd64"
	_ "github.com/gokrazy/kernel.arm64"
)

// Kernel is a located kernel image.
type Kernel struct {
	Path    string // host path of the image
	Version string // Linux release, e.g. "7.1.2", or "unknown"
	Source  string // "module github.com/x@v..." or "file /path"
}

// Error is a kernel that cannot be used; Key names the config key to fix.
type Error struct {
	Key string
	Msg string
}

func (e *Error) Error() string { return e.Key + ": " + e.Msg }

// FromModule locates the vmlinuz of module (path, optionally @version),
// resolving an unversioned path through go.mod in sourceDir.
func FromModule(sourceDir, module, arch string) (*Kernel, error) {
	path, version, hasVersion := strings.Cut(module, "@")
	if !hasVersion {
		var m struct{ Version, Dir string }
		out, err := goCmd(sourceDir, "list", "-m", "-json", path)
		if err != nil || json.Unmarshal(out, &m) != nil || m.Version == "" {
			return nil, &Error{"kernel.module", fmt.Sprintf("module %s is not required by %s/go.mod (%s): add it with `go get %s@VERSION`, or write kernel.module: %s@VERSION",
				path, sourceDir, firstLine(err), path, path)}
		}
		version = m.Version
	}
	var m struct{ Dir, Error string }
	out, err := goCmd(sourceDir, "mod", "download", "-json", path+"@"+version)
	if jerr := json.Unmarshal(out, &m); jerr != nil || m.Dir == "" {
		msg := m.Error
		if msg == "" {
			msg = firstLine(err)
		}
		return nil, &Error{"kernel.module", fmt.Sprintf("cannot download %s@%s: %s: check the module path and version, and that the Go module proxy is reachable", path, version, msg)}
	}
	k, err := inspect(filepath.Join(m.Dir, "vmlinuz"), arch, "kernel.module")
	if err != nil {
		return nil, err
	}
	k.Source = "module " + path + "@" + version
	if k.Version == "unknown" {
		k.Version = moduleLibVersion(m.Dir)
	}
	return k, nil
}

// FromFile checks a kernel image given by path.
func FromFile(path, arch string) (*Kernel, error) {
	k, err := inspect(path, arch, "kernel.path")
	if err != nil {
		return nil, err
	}
	abs, _ := filepath.Abs(path)
	k.Source = "file " + abs
	return k, nil
}

func inspect(path, arch, key string) (*Kernel, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &Error{key, fmt.Sprintf("kernel image %s does not exist", path)}
		}
		return nil, &Error{key, err.Error()}
	}
	k := &Kernel{Path: path, Version: "unknown"}
	switch arch {
	case "amd64":
		v, ok := bzImageVersion(data)
		if !ok {
			return nil, &Error{key, fmt.Sprintf("%s is not an x86 bzImage (no HdrS setup header): arch amd64 needs a bzImage", path)}
		}
		k.Version = v
	case "arm64":
		// arm64 Image header: magic "ARM\x64" at offset 56.
		if len(data) < 64 || string(data[56:60]) != "ARM\x64" {
			return nil, &Error{key, fmt.Sprintf("%s is not an uncompressed arm64 Image (no ARM\\x64 magic at offset 56): arch arm64 needs an Image", path)}
		}
		if m := linuxVersionRE.FindSubmatch(data); m != nil {
			k.Version = string(m[1])
		}
	default:
		return nil, &Error{"arch", fmt.Sprintf("unknown arch %q", arch)}
	}
	return k, nil
}

var linuxVersionRE = regexp.MustCompile(`Linux version ([0-9][^ \x00]*) `)

// bzImageVersion reads the kernel_version string the x86 boot protocol
// points to from the setup header (offset 0x20e, relative to 0x200).
func bzImageVersion(data []byte) (string, bool) {
	if len(data) < 0x210 || string(data[0x202:0x206]) != "HdrS" {
		return "", false
	}
	off := int(binary.LittleEndian.Uint16(data[0x20e:])) + 0x200
	if off <= 0x200 || off >= len(data) {
		return "unknown", true
	}
	s := data[off:]
	if i := bytes.IndexAny(s, " \x00"); i >= 0 {
		s = s[:i]
	}
	return string(s), true
}

// moduleLibVersion falls back to the lib/modules/<release> directory a
// gokrazy kernel module ships.
func moduleLibVersion(dir string) string {
	ents, err := os.ReadDir(filepath.Join(dir, "lib", "modules"))
	if err != nil || len(ents) != 1 {
		return "unknown"
	}
	return ents[0].Name()
}

func goCmd(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if stderr.Len() > 0 {
			return out, errors.New(strings.TrimSpace(stderr.String()))
		}
		return out, err
	}
	return out, nil
}

func firstLine(err error) string {
	if err == nil {
		return "no version"
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
