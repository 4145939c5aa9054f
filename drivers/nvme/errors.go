package nvme

import (
	"errors"
	"fmt"
)

// Errors the driver reports. Controller errors wrap them, with what failed.
var (
	// ErrTimeout: a command or a state change did not complete in time;
	// the controller was reset.
	ErrTimeout = errors.New("nvme: timed out")
	// ErrFatal: the controller reported a fatal status (CSTS.CFS); it was
	// reset.
	ErrFatal = errors.New("nvme: controller fatal status")
	// ErrReset: the command was lost to a reset of the controller.
	ErrReset = errors.New("nvme: controller was reset while the command was outstanding")
	// ErrNoDevice: the domain was granted no PCI device.
	ErrNoDevice = errors.New("nvme: no PCI device granted (grant an hw.PCIDevice under \"pci\")")
	// ErrRange: an LBA or length outside the namespace or the buffer.
	ErrRange = errors.New("nvme: out of range")
)

// Status codes (generic command status, SCT 0).
const (
	SCSuccess          = 0x00
	SCInvalidOpcode    = 0x01
	SCInvalidField     = 0x02
	SCLBAOutOfRange    = 0x80
	SCTCommandSpecific = 1
	SCInvalidQueueID   = 0x01 // SCT 1
	SCInvalidQSize     = 0x02 // SCT 1
)

// A StatusError is a command the controller completed with an error status.
type StatusError struct {
	Opcode uint8
	Admin  bool
	SCT    uint8 // status code type
	SC     uint8 // status code
}

func (e *StatusError) Error() string {
	q := "I/O"
	if e.Admin {
		q = "admin"
	}
	return fmt.Sprintf("nvme: %s command %#02x failed: status type %d code %#02x (%s)", q, e.Opcode, e.SCT, e.SC, e.describe())
}

func (e *StatusError) describe() string {
	switch {
	case e.SCT == 0 && e.SC == SCInvalidOpcode:
		return "invalid command opcode"
	case e.SCT == 0 && e.SC == SCInvalidField:
		return "invalid field in command"
	case e.SCT == 0 && e.SC == SCLBAOutOfRange:
		return "LBA out of range"
	case e.SCT == 1 && e.SC == SCInvalidQueueID && e.Admin:
		return "invalid queue identifier"
	case e.SCT == 1 && e.SC == SCInvalidQSize && e.Admin:
		return "invalid queue size"
	}
	return "see the NVMe specification"
}

// statusError makes the error of a completion status field (bits 17-31 of
// dword 3 shifted down by 17), or nil for success.
func statusError(op uint8, admin bool, status uint16) error {
	sc, sct := uint8(status), uint8(status>>8&7)
	if sc == 0 && sct == 0 {
		return nil
	}
	return &StatusError{Opcode: op, Admin: admin, SCT: sct, SC: sc}
}
