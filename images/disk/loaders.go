package disk

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// entryName is the systemd-boot loader entry, loader/entries/rlgo.conf.
const entryName = "rlgo.conf"

// syslinuxDir is where syslinux keeps ldlinux.sys, ldlinux.c32 and its
// configuration on the ESP; ldlinux looks for syslinux.cfg there first.
const syslinuxDir = "/syslinux"

// gptMBRSize is the boot code area of the MBR, in front of the disk
// signature and the (protective) partition table.
const gptMBRSize = 440

func title(spec Spec) string {
	if spec.Title == "" {
		return defaultTitle
	}
	return spec.Title
}

// loaderConf is systemd-boot's loader.conf. timeout 0 boots the default
// entry at once without showing the menu; the auto-* entries would only
// add menu items nobody sees.
func loaderConf() string {
	return `# Written by rlgo (images/disk): boot the one entry at once.
default ` + entryName + `
timeout 0
editor no
auto-entries no
auto-firmware no
`
}

// loaderEntry is the systemd-boot entry for the kernel.
func loaderEntry(spec Spec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "title %s\nlinux %s\n", title(spec), espKernel)
	if spec.Initrd != "" {
		fmt.Fprintf(&b, "initrd %s\n", espInitrd)
	}
	if spec.Cmdline != "" {
		fmt.Fprintf(&b, "options %s\n", spec.Cmdline)
	}
	return b.String()
}

// syslinuxCfg boots the kernel at once: PROMPT 0 and TIMEOUT 0 without a
// menu UI mean no boot: prompt unless Shift or Alt is held. SERIAL must be
// the first line so that everything, errors included, also goes to the
// first serial port.
func syslinuxCfg(spec Spec) string {
	var b strings.Builder
	b.WriteString("SERIAL 0 115200\n")
	b.WriteString("# Written by rlgo (images/disk): boot at once, no prompt, no menu.\n")
	b.WriteString("PROMPT 0\nTIMEOUT 0\nDEFAULT rlgo\n\nLABEL rlgo\n")
	fmt.Fprintf(&b, "  MENU LABEL %s\n  LINUX %s\n", title(spec), espKernel)
	if spec.Initrd != "" {
		fmt.Fprintf(&b, "  INITRD %s\n", espInitrd)
	}
	if spec.Cmdline != "" {
		fmt.Fprintf(&b, "  APPEND %s\n", spec.Cmdline)
	}
	return b.String()
}

// installSyslinux puts syslinux's GPT MBR code in front of the partition
// table and runs the syslinux installer on the image file. Debian's
// syslinux is the mtools flavour: it works on the file at an offset and
// needs neither root nor a loop device. It writes the FAT boot sector's
// code (keeping its BPB), ldlinux.sys with the list of its sectors, and
// ldlinux.c32 from its own copy, so the two always match.
func (p *layout) installSyslinux(f *os.File) error {
	mbr, err := os.ReadFile(p.gptMBR)
	if err != nil {
		return fmt.Errorf("syslinux GPT MBR: %w", err)
	}
	if len(mbr) > gptMBRSize {
		return fmt.Errorf("syslinux GPT MBR %s: %d bytes, more than the %d of MBR boot code", p.gptMBR, len(mbr), gptMBRSize)
	}
	if _, err := f.WriteAt(mbr, 0); err != nil {
		return fmt.Errorf("writing the MBR boot code: %w", err)
	}
	cmd := exec.Command(p.syslinux, "--install",
		"--offset", strconv.FormatInt(p.info.ESPOffset, 10),
		"--directory", syslinuxDir,
		f.Name())
	home, err := os.MkdirTemp("", "rlbuild-syslinux-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(home)
	cmd.Env = toolEnv(home)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, bytes.TrimSpace(out))
	}
	p.info.Files = append(p.info.Files, syslinuxDir+"/ldlinux.sys", syslinuxDir+"/ldlinux.c32")
	return nil
}

// toolEnv is the whole environment of the host programs that write into
// the image (syslinux and the mtools it runs): only what finds programs
// and temporary space is the builder's. HOME is an empty directory, so no
// ~/.mtoolsrc applies, and no MTOOLS_* variable is passed; the C locale
// and UTC leave names and times to us.
func toolEnv(home string) []string {
	env := []string{"HOME=" + home, "LC_ALL=C", "TZ=UTC", "PATH=" + os.Getenv("PATH")}
	if tmp := os.Getenv("TMPDIR"); tmp != "" {
		env = append(env, "TMPDIR="+tmp)
	}
	return env
}
