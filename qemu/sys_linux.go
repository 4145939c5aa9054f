package qemu

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel send QEMU SIGTERM when the process
// that started it dies, so a crashed or killed test run does not leave
// QEMUs spinning on the CPU.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
