package qemu

import (
	"testing"

	"github.com/rlgo/redleaf/internal/testinitrd"
)

// initProgram is the guest's /init: it proves the console works both ways
// and then powers the machine off, which should end QEMU with status 0.
const initProgram = `package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"syscall"
)

func main() {
	fmt.Println("INIT-OK")
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil {
		fmt.Println("READ-ERROR:", err)
	}
	fmt.Printf("GOT:%s\n", strings.TrimSpace(line))
	// Scribble on the first disk, if there is one, so tests can check
	// where guest writes end up.
	if err := syscall.Mount("devtmpfs", "/dev", "devtmpfs", 0, ""); err == nil {
		if f, err := os.OpenFile("/dev/vda", os.O_WRONLY, 0); err == nil {
			if _, err := f.WriteAt([]byte("SCRIBBLED"), 0); err == nil && f.Sync() == nil {
				fmt.Println("WROTE-DISK")
			}
			f.Close()
		}
	}
	syscall.Sync()
	err = syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
	fmt.Println("POWER-OFF-FAILED:", err)
	select {}
}
`

// buildInitrd packs initProgram, built for goarch, as the /init of a
// gzipped newc cpio archive, the initramfs format the kernel reads.
func buildInitrd(t *testing.T, goarch string) string {
	t.Helper()
	return testinitrd.Build(t, goarch, initProgram)
}
