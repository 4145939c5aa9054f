package boot

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Action is what the machine does when the domain kernel stops.
type Action int

const (
	ActionPoweroff Action = iota // power the machine off
	ActionReboot                 // restart the machine
	ActionHalt                   // stop the CPUs, leave the power on
)

func (a Action) String() string {
	switch a {
	case ActionPoweroff:
		return "poweroff"
	case ActionReboot:
		return "reboot"
	case ActionHalt:
		return "halt"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// ParseAction parses "poweroff", "reboot" or "halt".
func ParseAction(s string) (Action, error) {
	switch strings.ToLower(s) {
	case "poweroff", "off", "shutdown":
		return ActionPoweroff, nil
	case "reboot", "restart":
		return ActionReboot, nil
	case "halt":
		return ActionHalt, nil
	}
	return ActionPoweroff, fmt.Errorf("unknown action %q (want poweroff, reboot or halt)", s)
}

// rebootCmd is the LINUX_REBOOT_CMD_* for a.
func (a Action) rebootCmd() int {
	switch a {
	case ActionReboot:
		return unix.LINUX_REBOOT_CMD_RESTART
	case ActionHalt:
		return unix.LINUX_REBOOT_CMD_HALT
	}
	return unix.LINUX_REBOOT_CMD_POWER_OFF
}

// ErrNotPID1 is returned by the power functions when this process is not
// PID 1: they refuse to power off a developer's host.
var ErrNotPID1 = errors.New("not running as PID 1: refusing to power off, reboot or halt this machine")

// IsPID1 reports whether this process is init (PID 1 of its PID namespace).
// Only then does the boot package mount file systems or touch the power.
func IsPID1() bool { return os.Getpid() == 1 }

// Poweroff syncs, unmounts what it can and powers the machine off. It
// returns only on failure.
func Poweroff() error { return Power(ActionPoweroff) }

// Reboot syncs, unmounts what it can and restarts the machine. It returns
// only on failure.
func Reboot() error { return Power(ActionReboot) }

// Halt syncs, unmounts what it can and halts the machine. It returns only
// on failure.
func Halt() error { return Power(ActionHalt) }

// Power carries out a: sync, best-effort unmount of disk file systems,
// sync again, then reboot(2) with the matching LINUX_REBOOT_CMD_*. It
// returns ErrNotPID1 without doing anything unless this process is PID 1,
// and otherwise returns only if reboot(2) failed.
func Power(a Action) error {
	if !IsPID1() {
		return ErrNotPID1
	}
	unix.Sync()
	unmountDisks()
	unix.Sync()
	if err := unix.Reboot(a.rebootCmd()); err != nil {
		return fmt.Errorf("%s: reboot(2): %w", a, err)
	}
	// LINUX_REBOOT_CMD_HALT returns after stopping the other CPUs on
	// some machines; there is nothing left to do.
	return nil
}

// pseudoFS are file system types without a backing device: nothing to
// flush, and unmounting them (/dev holds the console) only gets in the way
// if the power-off then fails.
var pseudoFS = map[string]bool{
	"rootfs": true, "ramfs": true, "tmpfs": true, "devtmpfs": true, "proc": true,
	"sysfs": true, "devpts": true, "cgroup": true, "cgroup2": true, "debugfs": true,
	"tracefs": true, "securityfs": true, "pstore": true, "bpf": true, "mqueue": true,
	"hugetlbfs": true, "configfs": true, "fusectl": true, "efivarfs": true,
	"binfmt_misc": true, "autofs": true, "nsfs": true,
}

// unmountDisks unmounts, in reverse mount order, the file systems that have
// a backing store, and remounts read-only those it cannot unmount. Errors
// are ignored: this is the last thing before the power goes.
func unmountDisks() {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return
	}
	defer f.Close()
	type ent struct{ target, fstype string }
	var ents []ent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		ents = append(ents, ent{unescapeMount(fields[1]), fields[2]})
	}
	for i := len(ents) - 1; i >= 0; i-- {
		e := ents[i]
		if e.target == "/" || pseudoFS[e.fstype] {
			continue
		}
		if unix.Unmount(e.target, 0) != nil {
			_ = unix.Mount("", e.target, "", unix.MS_REMOUNT|unix.MS_RDONLY, "")
		}
	}
}

// unescapeMount undoes the octal escapes (\040 for space...) of
// /proc/self/mounts.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
