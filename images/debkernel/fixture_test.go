package debkernel

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// fakeModule returns a minimal relocatable ELF file whose only section
// is .modinfo with name= and depends=, as modpost writes them.
func fakeModule(t testing.TB, name, depends string) []byte {
	t.Helper()
	modinfo := []byte("license=GPL\x00name=" + name + "\x00depends=" + depends + "\x00vermagic=6.1.0 SMP mod_unload\x00")
	shstr := []byte("\x00.modinfo\x00.shstrtab\x00")
	const ehsize, shentsize = 64, 64
	modOff := uint64(ehsize)
	strOff := modOff + uint64(len(modinfo))
	shOff := (strOff + uint64(len(shstr)) + 7) &^ 7
	var b bytes.Buffer
	h := elf.Header64{Type: uint16(elf.ET_REL), Machine: uint16(elf.EM_X86_64), Version: 1, Shoff: shOff, Ehsize: ehsize, Shentsize: shentsize, Shnum: 3, Shstrndx: 2}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS], h.Ident[elf.EI_DATA], h.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), 1
	binary.Write(&b, binary.LittleEndian, h)
	b.Write(modinfo)
	b.Write(shstr)
	b.Write(make([]byte, shOff-uint64(b.Len())))
	for _, s := range []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_PROGBITS), Flags: uint64(elf.SHF_ALLOC), Off: modOff, Size: uint64(len(modinfo)), Addralign: 1},
		{Name: 10, Type: uint32(elf.SHT_STRTAB), Off: strOff, Size: uint64(len(shstr)), Addralign: 1},
	} {
		binary.Write(&b, binary.LittleEndian, s)
	}
	return b.Bytes()
}

// tarOf writes a tar of files (path -> content), directories implied,
// in path order, as dpkg-deb does.
func tarOf(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755})
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: "./" + n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[n]))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(files[n])
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// compressAs compresses data for a member named data.tar<ext>.
func compressAs(t testing.TB, ext string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	switch ext {
	case "":
		return data
	case ".gz":
		w := gzip.NewWriter(&b)
		w.Write(data)
		w.Close()
	case ".zst":
		w, _ := zstd.NewWriter(&b)
		w.Write(data)
		w.Close()
	case ".xz":
		cmd := exec.Command("xz", "-c")
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		if err != nil {
			t.Skipf("no xz to make an .xz fixture: %v", err)
		}
		return out
	default:
		t.Fatalf("ext %q", ext)
	}
	return b.Bytes()
}

// fakeDeb writes a .deb: control (fields), data (files) compressed as ext.
func fakeDeb(t testing.TB, dir, ext, control string, files map[string][]byte) string {
	t.Helper()
	p := filepath.Join(dir, "pkg"+ext+".deb")
	var b bytes.Buffer
	ctl := compressAs(t, ".gz", tarOf(t, map[string][]byte{"control": []byte(control), "md5sums": nil}))
	data := compressAs(t, ext, tarOf(t, files))
	if err := writeAr(&b, [2]string{"debian-binary", "2.0\n"}, [2]string{"control.tar.gz", string(ctl)}, [2]string{"data.tar" + ext, string(data)}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const release = "6.1.0-99-amd64"

// kernelFiles are the files of a fake linux-image package: a chain
// a -> b -> c, d on its own, e (compressed, depends on c) and a builtin.
func kernelFiles(t testing.TB, compressed []byte) map[string][]byte {
	m := "lib/modules/" + release + "/"
	files := map[string][]byte{
		"boot/vmlinuz-" + release:                fakeBzImage(),
		"boot/config-" + release:                 []byte("CONFIG_MODULES=y\n# CONFIG_MODULE_DECOMPRESS is not set\n"),
		"boot/System.map-" + release:             []byte("0 T x\n"),
		m + "kernel/drivers/a/mod-a.ko":          fakeModule(t, "mod_a", "mod_b"),
		m + "kernel/drivers/b/mod_b.ko":          fakeModule(t, "mod_b", "mod_c"),
		m + "kernel/lib/mod-c.ko":                fakeModule(t, "mod_c", ""),
		m + "kernel/drivers/d/mod-d.ko":          fakeModule(t, "mod_d", ""),
		m + "modules.builtin":                    []byte("kernel/drivers/tty/serial/8250.ko\n"),
		m + "modules.order":                      []byte("kernel/drivers/a/mod-a.ko\n"),
		"usr/share/doc/linux-image/changelog.gz": []byte("x"),
	}
	if compressed != nil {
		files[m+"kernel/drivers/e/mod-e.ko.xz"] = compressed
	}
	return files
}

// fakeBzImage is enough of a bzImage for kernelsrc: the setup header's
// magic and a version string.
func fakeBzImage() []byte {
	b := make([]byte, 0x400)
	copy(b[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(b[0x20e:], 0x100)
	copy(b[0x300:], release+" (debian-kernel@lists.debian.org) #1 SMP\x00")
	return b
}
