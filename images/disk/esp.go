package disk

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/partition/gpt"
)

// ESP finds the EFI System Partition of the GPT disk image at imagePath,
// which it only reads, and returns its byte range in the image: the
// partition is the size bytes from offset on. It is the first GPT entry
// with the ESP's type GUID. It fails when the image has no GPT (none at
// all, or only an MBR partition table), when no entry is an ESP, or when
// the ESP reaches past the end of the image.
func ESP(imagePath string) (offset, size int64, err error) {
	f, err := os.Open(imagePath)
	if err != nil {
		return 0, 0, err
	}
	// file.New makes go-diskfs read only; closing f is ours to do.
	defer f.Close()
	d, err := diskfs.OpenBackend(file.New(f, true), diskfs.WithSectorSize(sectorSize))
	if err != nil {
		return 0, 0, fmt.Errorf("disk image %s: %w", imagePath, err)
	}
	pt, err := d.GetPartitionTable()
	if err != nil {
		return 0, 0, fmt.Errorf("disk image %s: no GPT: %w", imagePath, err)
	}
	table, ok := pt.(*gpt.Table)
	if !ok {
		return 0, 0, fmt.Errorf("disk image %s: no GPT, only an %s partition table", imagePath, strings.ToUpper(pt.Type()))
	}
	for _, p := range table.Partitions {
		if p == nil || !strings.EqualFold(string(p.Type), string(gpt.EFISystemPartition)) {
			continue
		}
		offset, size = p.GetStart(), p.GetSize()
		if offset <= 0 || size <= 0 || offset+size > d.Size {
			return 0, 0, fmt.Errorf("disk image %s: EFI System Partition %d (bytes %d to %d) does not fit in the %d-byte image", imagePath, p.Index, offset, offset+size, d.Size)
		}
		return offset, size, nil
	}
	return 0, 0, fmt.Errorf("disk image %s: GPT has no EFI System Partition", imagePath)
}

// Where the kernel and initrd live on the ESP. Both loaders read them from
// here; the names are valid 8.3 names so any FAT reader finds them.
const (
	espKernel = "/rlgo/linux"
	espInitrd = "/rlgo/initrd"
)

// espFile is one file to put on the ESP: either the contents of a host
// file or generated text.
type espFile struct {
	path string // on the ESP
	what string // for errors: "kernel", "initrd", "systemd-boot"; "" for text
	host string // host path of the contents, or "" for text
	text string
}

// espFiles lists what goes on the ESP, in the order it is written. The
// order is fixed so cluster allocation, and so the image, is too.
func (p *layout) espFiles() []espFile {
	files := []espFile{{path: espKernel, what: "kernel", host: p.spec.Kernel}}
	if p.spec.Initrd != "" {
		files = append(files, espFile{path: espInitrd, what: "initrd", host: p.spec.Initrd})
	}
	if p.spec.UEFI {
		files = append(files,
			espFile{path: "/EFI/BOOT/" + p.efiName, what: "systemd-boot", host: p.efiLoader},
			espFile{path: "/loader/loader.conf", text: loaderConf()},
			espFile{path: "/loader/entries/" + entryName, text: loaderEntry(p.spec)},
		)
	}
	if p.spec.BIOS {
		files = append(files, espFile{path: syslinuxDir + "/syslinux.cfg", text: syslinuxCfg(p.spec)})
	}
	return files
}

// writeESP formats the ESP as FAT32 and writes the files on it.
func (p *layout) writeESP(d *disk.Disk) error {
	fs, err := d.CreateFilesystem(disk.FilesystemSpec{
		Partition:   1,
		FSType:      filesystem.TypeFat32,
		VolumeLabel: espLabel,
		// Without it go-diskfs derives the volume id from the clock. It
		// then writes 0, which fixFAT replaces with one from the seed.
		Reproducible: true,
	})
	if err != nil {
		return fmt.Errorf("formatting the ESP: %w", err)
	}
	for _, f := range p.espFiles() {
		if err := writeFile(fs, f); err != nil {
			return err
		}
		p.info.Files = append(p.info.Files, f.path)
	}
	return nil
}

// copyChunk bounds the memory used to copy a file while keeping the
// number of writes low: go-diskfs rewrites both FATs and walks the
// file's cluster chain on every Write, so 32 KiB writes of a 16 MiB kernel
// would be thousands of FAT rewrites.
const copyChunk = 16 << 20

func writeFile(fs filesystem.FileSystem, f espFile) error {
	fail := func(err error) error {
		if f.host != "" {
			return fmt.Errorf("copying %s file %s to the ESP as %s: %w", f.what, f.host, f.path, err)
		}
		return fmt.Errorf("writing %s on the ESP: %w", f.path, err)
	}
	if dir := path.Dir(f.path); dir != "/" {
		if err := fs.Mkdir(dir); err != nil {
			return fail(err)
		}
	}
	out, err := fs.OpenFile(f.path, os.O_CREATE|os.O_RDWR)
	if err != nil {
		return fail(err)
	}
	defer out.Close()

	var in io.Reader = strings.NewReader(f.text)
	size := int64(len(f.text))
	if f.host != "" {
		hf, err := os.Open(f.host)
		if err != nil {
			return inputError(f.what, f.host, err)
		}
		defer hf.Close()
		st, err := hf.Stat()
		if err != nil {
			return inputError(f.what, f.host, err)
		}
		in, size = hf, st.Size()
	}
	buf := make([]byte, min(copyChunk, max(size, 1)))
	for {
		n, err := io.ReadFull(in, buf)
		if n > 0 {
			if _, werr := out.Write(buf[:n]); werr != nil {
				return fail(werr)
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			if f.host != "" {
				return inputError(f.what, f.host, err)
			}
			return fail(err)
		}
	}
}
