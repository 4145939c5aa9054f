// Package initramfs assembles the initial RAM file system with u-root's
// image builder (github.com/u-root/mkuimage): our domain kernel as /init,
// u-root's default directories and device nodes, optional u-root commands
// for debugging and extra files; then compresses it. The cpio is sorted
// with zeroed times and owners, and the compressors run with fixed
// settings, so the same inputs always give the same bytes. Every entry's
// permission bits are set by the build (see canonical), so the bytes do
// not depend on the umask the host files were written under either.
package initramfs

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/u-root/gobusybox/src/pkg/golang"
	"github.com/u-root/mkuimage/uimage"
	"github.com/u-root/uio/llog"
)

// File is an extra file: Host is copied to Target inside the image.
type File struct{ Host, Target string }

// Spec describes an initramfs.
type Spec struct {
	Arch        string   // GOARCH of the u-root commands
	Init        string   // host path of the static binary that becomes /init
	Files       []File   // extra files
	Commands    []string // u-root command packages, built into /bbin
	Compression string   // zstd, gzip or none
	SourceDir   string   // module the command packages resolve in
	TempDir     string   // scratch space (removed by the caller)
}

// Info describes what Build wrote.
type Info struct {
	CPIOSize int64 // uncompressed
	Size     int64 // as written
}

// Build writes the initramfs of spec to out.
func Build(ctx context.Context, out string, spec Spec) (*Info, error) {
	if _, err := os.Stat(spec.Init); err != nil {
		return nil, fmt.Errorf("initramfs: init binary: %w", err)
	}
	cpioPath := filepath.Join(spec.TempDir, "initramfs.cpio")
	files := []string{spec.Init + ":init"}
	for _, f := range spec.Files {
		files = append(files, f.Host+":"+strings.TrimPrefix(f.Target, "/"))
	}
	base := uimage.DefaultRamfs()
	mods := []uimage.Modifier{
		uimage.WithTempDir(spec.TempDir),
		uimage.WithEnv(golang.WithGOOS("linux"), golang.WithGOARCH(spec.Arch), golang.DisableCGO(), golang.WithWorkingDir(spec.SourceDir)),
		uimage.WithBaseArchive(base),
		uimage.WithFiles(files...),
		uimage.WithSkipLDD(), // everything we add is static
		// Every record passes through canonical on its way into the
		// cpio: modes, owners and times are the build's, not the host's.
		uimage.WithOutput(canonicalCPIO{path: cpioPath, base: base}),
	}
	if len(spec.Commands) > 0 {
		mods = append(mods, uimage.WithBusyboxCommands(spec.Commands...))
	}
	logger := llog.New(slog.LevelWarn, func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "mkuimage: "+format+"\n", args...)
	})
	if err := uimage.Create(logger, mods...); err != nil {
		return nil, fmt.Errorf("initramfs: u-root image builder: %w", err)
	}
	st, err := os.Stat(cpioPath)
	if err != nil {
		return nil, err
	}
	if err := compress(cpioPath, out, spec.Compression); err != nil {
		return nil, err
	}
	ost, err := os.Stat(out)
	if err != nil {
		return nil, err
	}
	return &Info{CPIOSize: st.Size(), Size: ost.Size()}, nil
}

// compress writes src to dst with the named compression. zstd runs with a
// single encoder goroutine and a fixed level so its output is stable.
func compress(src, dst, how string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	var w io.WriteCloser
	switch how {
	case "zstd":
		w, err = zstd.NewWriter(out, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			return err
		}
	case "gzip":
		w, err = gzip.NewWriterLevel(out, gzip.BestCompression)
		if err != nil {
			return err
		}
	case "none":
		_, err = io.Copy(out, in)
		return err
	default:
		return fmt.Errorf("initramfs: unknown compression %q (use zstd, gzip or none)", how)
	}
	if _, err := io.Copy(w, in); err != nil {
		return err
	}
	return w.Close()
}
