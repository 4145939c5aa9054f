package e2e

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/rlgo/redleaf/images/manifest"
	"github.com/rlgo/redleaf/qemu"
)

// imageB builds a config for a benchmark (outside the tests' cache).
func imageB(b *testing.B, cfg string) string {
	b.Helper()
	out := filepath.Join(b.TempDir(), filepath.Base(cfg))
	timed(b, nil, rlbuild, "image", "--config", cfg, "--out", out)
	return out
}

// timedCPIOSize is the uncompressed size of the build's initramfs.
func timedCPIOSize(b *testing.B, m *manifest.Manifest) float64 {
	data, err := os.ReadFile(m.Path(m.Initrd))
	if err != nil {
		b.Fatal(err)
	}
	d, err := zstd.NewReader(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	n, err := io.Copy(io.Discard, d)
	if err != nil {
		b.Fatal(err)
	}
	return float64(n)
}

// allocated is how many bytes of a sparse file are stored.
func allocated(b *testing.B, path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Blocks * 512
}

// kernelMode is the QEMU configuration that boots cfg's image (built once
// per run by image) in kernel mode, for tests that add devices to it.
func kernelMode(t *testing.T, cfg string) qemu.Config {
	t.Helper()
	m, err := manifest.Load(image(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	c, err := qemu.FromManifest(m, qemu.Kernel)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
