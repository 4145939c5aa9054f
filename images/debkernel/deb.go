package debkernel

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/rlgo/redleaf/host"
)

// Xz is the host program that decompresses data.tar.xz (Go's xz decoders
// in the module graph are ten times slower than it on a kernel package).
var Xz = host.File{What: "xz decompressor", Paths: []string{"xz"}, Program: true, Package: "xz-utils"}

// walkDeb calls fn for every entry of the tar member prefix ("data.tar"
// or "control.tar") of the .deb at path, whatever its compression (none,
// gz, xz, zst, bz2). Names are cleaned and relative ("boot/vmlinuz-6.1").
// fn returning errStop ends the walk.
func walkDeb(ctx context.Context, debPath, prefix string, fn func(h *tar.Header, r io.Reader) error) error {
	f, err := os.Open(debPath)
	if err != nil {
		return err
	}
	defer f.Close()
	found := false
	err = readAr(f, func(m arMember, r io.Reader) error {
		if m.Name != prefix && !strings.HasPrefix(m.Name, prefix+".") {
			return nil
		}
		found = true
		dr, closeFn, err := decompress(ctx, strings.TrimPrefix(m.Name, prefix), r)
		if err != nil {
			return fmt.Errorf("%s: %w", m.Name, err)
		}
		werr := walkTar(dr, fn)
		if cerr := closeFn(); werr == nil && cerr != nil {
			werr = fmt.Errorf("%s: %w", m.Name, cerr)
		}
		if werr == nil {
			werr = errStop
		}
		return werr
	})
	if err != nil {
		return fmt.Errorf("%s: %w", debPath, err)
	}
	if !found {
		return fmt.Errorf("%s: no %s member: not a Debian package", debPath, prefix)
	}
	return nil
}

func walkTar(r io.Reader, fn func(h *tar.Header, r io.Reader) error) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tar: %w", err)
		}
		h.Name = strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if err := fn(h, tr); err == errStop {
			// Drain, so that a decompressing process is not left
			// blocked on a full pipe.
			_, _ = io.Copy(io.Discard, r)
			return nil
		} else if err != nil {
			return err
		}
	}
}

// decompress returns a reader of r decompressed as ext says (".xz",
// ".zst", ".gz", ".bz2" or ""), and a function that releases it and
// reports a failure of the decompressor.
func decompress(ctx context.Context, ext string, r io.Reader) (io.Reader, func() error, error) {
	none := func() error { return nil }
	switch ext {
	case "":
		return r, none, nil
	case ".gz":
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return z, z.Close, nil
	case ".bz2":
		return bzip2.NewReader(r), none, nil
	case ".zst":
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, err
		}
		return z, func() error { z.Close(); return nil }, nil
	case ".xz":
		xz, err := host.Find(Xz, "to unpack Debian packages (data.tar.xz)")
		if err != nil {
			return nil, nil, err
		}
		cmd := exec.CommandContext(ctx, xz, "-dc")
		cmd.Stdin = r
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, nil, err
		}
		return bufio.NewReaderSize(out, 1<<20), func() error {
			_, _ = io.Copy(io.Discard, out)
			if err := cmd.Wait(); err != nil {
				return fmt.Errorf("xz -dc: %v: %s", err, strings.TrimSpace(stderr.String()))
			}
			return nil
		}, nil
	}
	return nil, nil, fmt.Errorf("unknown compression %q (rlbuild reads none, .gz, .xz, .zst and .bz2)", ext)
}

// decompressFile decompresses a whole small file (a module) named name.
func decompressFile(ctx context.Context, name string, data []byte) ([]byte, error) {
	r, closeFn, err := decompress(ctx, path.Ext(name), bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(r)
	if cerr := closeFn(); err == nil {
		err = cerr
	}
	return out, err
}

// control returns the fields of the package's control file.
func control(ctx context.Context, debPath string) (map[string]string, error) {
	var fields map[string]string
	err := walkDeb(ctx, debPath, "control.tar", func(h *tar.Header, r io.Reader) error {
		if h.Name != "control" {
			return nil
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		fields = parseControl(string(b))
		return errStop
	})
	if err != nil {
		return nil, err
	}
	if fields == nil {
		return nil, fmt.Errorf("%s: no control file in control.tar", debPath)
	}
	return fields, nil
}

// parseControl reads one RFC 822-style stanza (continuation lines are
// joined with newlines).
func parseControl(s string) map[string]string {
	fields := map[string]string{}
	last := ""
	for _, line := range strings.Split(s, "\n") {
		if line == "" {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && last != "" {
			fields[last] += "\n" + strings.TrimSpace(line)
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		last = strings.TrimSpace(k)
		fields[last] = strings.TrimSpace(v)
	}
	return fields
}

// kernelDependency returns the linux-image package a metapackage's
// Depends names first ("linux-image-6.1.0-28-amd64 (= 6.1.119-1)" gives
// linux-image-6.1.0-28-amd64), or "".
func kernelDependency(depends string) string {
	for _, alt := range strings.Split(depends, ",") {
		for _, d := range strings.Split(alt, "|") {
			name, _, _ := strings.Cut(strings.TrimSpace(d), " ")
			name, _, _ = strings.Cut(name, "(")
			if strings.HasPrefix(name, "linux-image-") {
				return name
			}
		}
	}
	return ""
}
