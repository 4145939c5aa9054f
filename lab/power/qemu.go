package power

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/rlgo/redleaf/lab/vbmc"
	"github.com/rlgo/redleaf/qemu/qmp"
)

// qemuDriver powers a QEMU VM over its QMP socket, with the same power
// model as the virtual BMC (vbmc.Machine): off is stopped CPUs after a
// reset, on is a reset and running CPUs. QEMU serves one client per QMP
// socket: a VM whose socket a virtual BMC holds is powered through the
// BMC (redfish or ipmi), not this backend.
type qemuDriver struct {
	m *vbmc.Machine
}

func openQEMU(ctx context.Context, s Spec) (driver, error) {
	ctx, cancel := context.WithTimeout(ctx, min(s.Timeout, defaultTimeout))
	defer cancel()
	m, err := vbmc.NewMachine(ctx, s.Address, vbmc.MachineOptions{Timeout: s.Timeout})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
			err = fmt.Errorf("%w (QEMU serves one QMP client per socket: is a virtual BMC or another backend attached?)", err)
		}
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	return &qemuDriver{m: m}, nil
}

func (q *qemuDriver) wrap(err error) error {
	if err == nil {
		return nil
	}
	var qe *qmp.Error
	if errors.As(err, &qe) {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	return fmt.Errorf("%w: %w", ErrUnreachable, err)
}

func (q *qemuDriver) on(ctx context.Context) error  { return q.wrap(q.m.SetPower(ctx, true)) }
func (q *qemuDriver) off(ctx context.Context) error { return q.wrap(q.m.SetPower(ctx, false)) }
func (q *qemuDriver) cycle(context.Context) error   { return errors.ErrUnsupported }
func (q *qemuDriver) readable() bool                { return true }
func (q *qemuDriver) close() error                  { return q.m.Close() }

func (q *qemuDriver) state(ctx context.Context) (State, error) {
	on, err := q.m.PowerState(ctx)
	if err != nil {
		return Unknown, q.wrap(err)
	}
	if on {
		return On, nil
	}
	return Off, nil
}

func (q *qemuDriver) bootPXE(context.Context) error {
	err := q.m.SetOverride(vbmc.Override{Enabled: vbmc.BootOnce, Target: vbmc.BootPxe})
	if errors.Is(err, vbmc.ErrNoDevice) {
		return fmt.Errorf("%w: the VM has no NIC with a settable boot order (start it with qemu.Config.QMPSocket and a PXE NIC): %w", errors.ErrUnsupported, err)
	}
	return err
}
