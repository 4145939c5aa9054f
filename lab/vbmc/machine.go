package vbmc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rlgo/redleaf/qemu"
	"github.com/rlgo/redleaf/qemu/qmp"
)

// BootTarget is a boot override target, named as Redfish names them.
type BootTarget string

// The boot targets a QEMU machine supports.
const (
	BootNone     BootTarget = "None"     // the machine's own boot order
	BootPxe      BootTarget = "Pxe"      // the NIC first
	BootUefiHttp BootTarget = "UefiHttp" // the NIC first (the netboot server serves HTTP boot to it)
	BootHdd      BootTarget = "Hdd"      // the disk first
)

// BootEnabled says how long a boot override lasts, as Redfish's
// BootSourceOverrideEnabled.
type BootEnabled string

// The override lifetimes.
const (
	BootDisabled   BootEnabled = "Disabled"
	BootOnce       BootEnabled = "Once"
	BootContinuous BootEnabled = "Continuous"
)

// Override is a machine's boot override.
type Override struct {
	Enabled BootEnabled
	Target  BootTarget
}

// ErrNoDevice means a boot override names a device the machine lacks.
var ErrNoDevice = errors.New("the machine has no such boot device")

// Machine is the hardware side of a virtual BMC: one QEMU VM, driven over
// QMP. Its power model is a real machine's:
//
//   - on: the CPUs run (QEMU status running, or a crashed guest whose CPUs
//     QEMU stopped: a machine that hung is still powered);
//   - off: the CPUs are stopped after a reset (QEMU status prelaunch or
//     paused), or the guest powered itself off (status shutdown: QEMU is
//     told to pause rather than exit on a guest shutdown).
//
// Power on resets the machine (so it boots afresh, and a boot override
// reaches the firmware through QEMU's boot order, which QEMU hands the
// firmware at reset) and continues the CPUs. Power off stops the CPUs and
// resets, so nothing of the old run survives in the CPU state. A guest's
// reboot resets it in place (QEMU is told to reset rather than exit).
type Machine struct {
	q       *qmp.Client
	timeout time.Duration

	mu       sync.Mutex     // serializes power and boot changes
	devices  map[string]int // boot device id -> default boot index
	override Override
}

// MachineOptions configures NewMachine.
type MachineOptions struct {
	// Timeout bounds each power action (default 30 s).
	Timeout time.Duration
}

// NewMachine connects to the QMP socket of a QEMU started by package qemu
// (Config.QMPSocket; the NIC and disk ids are qemu.NICID and qemu.DiskID)
// and makes QEMU behave like a machine: guest reboots reset it, a guest
// shutdown leaves it off instead of ending QEMU.
func NewMachine(ctx context.Context, qmpSocket string, o MachineOptions) (*Machine, error) {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	q, err := qmp.Dial(ctx, qmpSocket)
	if err != nil {
		return nil, err
	}
	m := &Machine{q: q, timeout: o.Timeout, devices: map[string]int{}, override: Override{BootDisabled, BootNone}}
	if err := q.Execute(ctx, "set-action", map[string]string{"reboot": "reset", "shutdown": "pause"}, nil); err != nil {
		q.Close()
		return nil, fmt.Errorf("QEMU at %s: %w (QEMU 6.0 or later is needed)", qmpSocket, err)
	}
	for _, id := range []string{qemu.NICID, qemu.DiskID} {
		var idx int
		err := q.Execute(ctx, "qom-get", map[string]string{"path": "/machine/peripheral/" + id, "property": "bootindex"}, &idx)
		var qe *qmp.Error
		if errors.As(err, &qe) {
			continue // no such device
		}
		if err != nil {
			q.Close()
			return nil, err
		}
		m.devices[id] = idx
	}
	return m, nil
}

// Close ends the QMP connection; QEMU keeps running.
func (m *Machine) Close() error { return m.q.Close() }

// Done is closed when QEMU has gone away.
func (m *Machine) Done() <-chan struct{} { return m.q.Done() }

// Targets returns the boot targets this machine supports, None first.
func (m *Machine) Targets() []BootTarget {
	t := []BootTarget{BootNone}
	if _, ok := m.devices[qemu.NICID]; ok {
		t = append(t, BootPxe, BootUefiHttp)
	}
	if _, ok := m.devices[qemu.DiskID]; ok {
		t = append(t, BootHdd)
	}
	return t
}

func (m *Machine) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, m.timeout)
}

// PowerState reports whether the machine is on.
func (m *Machine) PowerState(ctx context.Context) (bool, error) {
	ctx, cancel := m.ctx(ctx)
	defer cancel()
	return m.powerState(ctx)
}

func (m *Machine) powerState(ctx context.Context) (bool, error) {
	st, err := m.q.QueryStatus(ctx)
	if err != nil {
		return false, err
	}
	switch st.Status {
	case "prelaunch", "paused", "shutdown":
		return false, nil
	}
	return true, nil
}

// SetPower powers the machine on or off; it is not an error if it
// already is.
func (m *Machine) SetPower(ctx context.Context, on bool) error {
	ctx, cancel := m.ctx(ctx)
	defer cancel()
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, err := m.powerState(ctx)
	if err != nil || cur == on {
		return err
	}
	if on {
		return m.powerOn(ctx)
	}
	return m.powerOff(ctx)
}

// Reset restarts the machine at once (a reset button); an off machine
// is powered on.
func (m *Machine) Reset(ctx context.Context) error {
	ctx, cancel := m.ctx(ctx)
	defer cancel()
	m.mu.Lock()
	defer m.mu.Unlock()
	on, err := m.powerState(ctx)
	if err != nil {
		return err
	}
	if !on {
		return m.powerOn(ctx)
	}
	return m.reset(ctx)
}

// PowerCycle powers the machine off and on again (on if it was off).
func (m *Machine) PowerCycle(ctx context.Context) error {
	ctx, cancel := m.ctx(ctx)
	defer cancel()
	m.mu.Lock()
	defer m.mu.Unlock()
	on, err := m.powerState(ctx)
	if err != nil {
		return err
	}
	if on {
		if err := m.powerOff(ctx); err != nil {
			return err
		}
	}
	return m.powerOn(ctx)
}

// Shutdown presses the power button (ACPI): the guest decides whether
// and when it powers off.
func (m *Machine) Shutdown(ctx context.Context) error {
	ctx, cancel := m.ctx(ctx)
	defer cancel()
	return m.q.Execute(ctx, "system_powerdown", nil, nil)
}

// Override returns the boot override.
func (m *Machine) Override() Override {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.override
}

// SetOverride sets the boot override that the next power on or reset
// uses; a Once override is then cleared (Disabled), as Redfish and IPMI
// BMCs do.
func (m *Machine) SetOverride(o Override) error {
	switch o.Enabled {
	case BootDisabled, BootOnce, BootContinuous:
	default:
		return fmt.Errorf("boot override lifetime %q: want Disabled, Once or Continuous", o.Enabled)
	}
	if o.Target == "" {
		o.Target = BootNone
	}
	ok := false
	for _, t := range m.Targets() {
		ok = ok || t == o.Target
	}
	if !ok {
		return fmt.Errorf("boot target %q: %w (supported: %v)", o.Target, ErrNoDevice, m.Targets())
	}
	if o.Enabled == BootDisabled {
		o.Target = BootNone
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.override = o
	return nil
}

// powerOn resets the machine with the boot override applied and runs it.
func (m *Machine) powerOn(ctx context.Context) error {
	if err := m.reset(ctx); err != nil {
		return err
	}
	return m.q.Execute(ctx, "cont", nil, nil)
}

func (m *Machine) powerOff(ctx context.Context) error {
	if err := m.q.Execute(ctx, "stop", nil, nil); err != nil {
		return err
	}
	return m.resetNoOverride(ctx)
}

// reset resets the machine with the boot override's order, which QEMU
// gives the firmware at the reset; the default order is restored right
// after, for the resets after that, unless the override is Continuous.
func (m *Machine) reset(ctx context.Context) error {
	o := m.override
	if o.Enabled == BootDisabled || o.Target == BootNone {
		return m.resetNoOverride(ctx)
	}
	first := qemu.NICID
	if o.Target == BootHdd {
		first = qemu.DiskID
	}
	order := map[string]int{}
	next := 1
	for id := range m.devices {
		if id == first {
			order[id] = 0
		} else {
			order[id] = next
			next++
		}
	}
	if err := m.setBootOrder(ctx, order); err != nil {
		return err
	}
	err := m.resetNoOverride(ctx)
	if o.Enabled == BootOnce {
		m.override = Override{BootDisabled, BootNone}
	}
	if o.Enabled == BootOnce || err != nil {
		err = errors.Join(err, m.setBootOrder(ctx, m.devices))
	}
	return err
}

// resetNoOverride resets the machine and waits until QEMU has done it
// (system_reset only asks for it).
func (m *Machine) resetNoOverride(ctx context.Context) error {
	events, stop := m.q.Subscribe()
	defer stop()
	if err := m.q.Execute(ctx, "system_reset", nil, nil); err != nil {
		return err
	}
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return fmt.Errorf("waiting for the reset: %w", m.q.Err())
			}
			if ev.Name == "RESET" {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("QEMU did not report the reset: %w", ctx.Err())
		}
	}
}

// setBootOrder sets the devices' boot indexes. QEMU refuses an index
// another device holds, so every device first moves out of the way.
func (m *Machine) setBootOrder(ctx context.Context, order map[string]int) error {
	for _, pass := range []int{100, 0} {
		for id, idx := range order {
			err := m.q.Execute(ctx, "qom-set", map[string]any{
				"path": "/machine/peripheral/" + id, "property": "bootindex", "value": idx + pass,
			}, nil)
			if err != nil {
				return fmt.Errorf("boot order of %s: %w", id, err)
			}
		}
	}
	return nil
}

// BootIndex returns a device's current boot index (qemu.NICID or
// qemu.DiskID), as QEMU reports it.
func (m *Machine) BootIndex(ctx context.Context, id string) (int, error) {
	var idx int
	err := m.q.Execute(ctx, "qom-get", map[string]string{"path": "/machine/peripheral/" + id, "property": "bootindex"}, &idx)
	return idx, err
}
