package vbmc

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/bougou/go-ipmi/pkg/hal"
	"github.com/bougou/go-ipmi/pkg/types"
)

// ipmiHAL is the hardware behind go-ipmi's BMC server: chassis power and
// boot flags drive the Machine, and the console (SOL) is the VM's serial
// socket. Sensors, storage (FRU, SDR), the BMC's own network, GPIO and
// I2C do not exist on a VM; go-ipmi answers their commands with
// "not supported".
type ipmiHAL struct {
	ch      *ipmiChassis
	console hal.ConsoleHAL
}

func (h *ipmiHAL) Chassis() hal.ChassisHAL { return h.ch }
func (h *ipmiHAL) Sensors() hal.SensorHAL  { return nil }
func (h *ipmiHAL) Storage() hal.StorageHAL { return nil }
func (h *ipmiHAL) Network() hal.NetworkHAL { return nil }
func (h *ipmiHAL) GPIO() hal.GPIOHAL       { return nil }
func (h *ipmiHAL) I2C() hal.I2CHAL         { return nil }
func (h *ipmiHAL) Console() hal.ConsoleHAL { return h.console }
func (h *ipmiHAL) Close() error            { return nil }

type ipmiChassis struct {
	m *Machine

	mu  sync.Mutex
	ack types.BootOptionParam_BootInfoAcknowledge
}

func (c *ipmiChassis) PowerState(ctx context.Context) (bool, error) { return c.m.PowerState(ctx) }
func (c *ipmiChassis) SetPower(ctx context.Context, on bool) error  { return c.m.SetPower(ctx, on) }
func (c *ipmiChassis) PowerCycle(ctx context.Context) error         { return c.m.PowerCycle(ctx) }
func (c *ipmiChassis) ColdReset(ctx context.Context) error          { return c.m.Reset(ctx) }

// WarmReset is Chassis Control's "soft shutdown": an ACPI power button
// press.
func (c *ipmiChassis) WarmReset(ctx context.Context) error { return c.m.Shutdown(ctx) }

// Identify has no light to blink on a VM; accepting it is harmless.
func (c *ipmiChassis) Identify(context.Context, uint8) error { return nil }

func (c *ipmiChassis) IntrusionState(context.Context) (bool, error) { return false, nil }

// SetBootFlags maps IPMI's boot device selector onto the Machine's boot
// override: PXE to Pxe, hard drive to Hdd, no override to None. Other
// devices (CD-ROM, BIOS setup, floppy...) do not exist on the VM.
func (c *ipmiChassis) SetBootFlags(_ context.Context, f *types.BootOptionParam_BootFlags) error {
	o := Override{Enabled: BootDisabled, Target: BootNone}
	if f.BootFlagsValid {
		o.Enabled = BootOnce
		if f.Persist {
			o.Enabled = BootContinuous
		}
		switch f.BootDeviceSelector {
		case types.BootDeviceSelectorNoOverride:
		case types.BootDeviceSelectorForcePXE:
			o.Target = BootPxe
		case types.BootDeviceSelectorForceHardDrive, types.BootDeviceSelectorForceHardDriveSafe:
			o.Target = BootHdd
		default:
			return hal.ErrNotSupported
		}
	}
	if err := c.m.SetOverride(o); err != nil {
		if errors.Is(err, ErrNoDevice) {
			return hal.ErrNotSupported
		}
		return err
	}
	return nil
}

func (c *ipmiChassis) GetBootFlags(context.Context) (*types.BootOptionParam_BootFlags, error) {
	o := c.m.Override()
	f := &types.BootOptionParam_BootFlags{
		BootFlagsValid: o.Enabled != BootDisabled,
		Persist:        o.Enabled == BootContinuous,
	}
	switch o.Target {
	case BootPxe, BootUefiHttp:
		f.BootDeviceSelector = types.BootDeviceSelectorForcePXE
	case BootHdd:
		f.BootDeviceSelector = types.BootDeviceSelectorForceHardDrive
	}
	return f, nil
}

func (c *ipmiChassis) SetBootInfoAcknowledge(_ context.Context, ack *types.BootOptionParam_BootInfoAcknowledge) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ack = *ack
	return nil
}

func (c *ipmiChassis) GetBootInfoAcknowledge(context.Context) (*types.BootOptionParam_BootInfoAcknowledge, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.ack
	return &a, nil
}

// serialConsole is the SOL console: the VM's serial socket (QEMU serves
// one client at a time, so SOL and a direct console client exclude each
// other, as on a machine with one serial port).
type serialConsole struct {
	path string

	mu   sync.Mutex
	open bool
}

func (s *serialConsole) Open(ctx context.Context) (hal.ConsoleConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open {
		return nil, errors.New("the serial console is already attached to a SOL session")
	}
	var d net.Dialer
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "unix", s.path)
	if err != nil {
		return nil, err
	}
	s.open = true
	c := &solConn{conn: conn, release: func() {
		s.mu.Lock()
		s.open = false
		s.mu.Unlock()
	}}
	go c.read()
	return c, nil
}

// solBuffer bounds console output waiting for the SOL client: a machine
// printing faster than SOL carries it (a few KiB/s) loses the excess, as
// a real BMC's buffer does.
const solBuffer = 64 << 10

// solConn adapts the serial socket to go-ipmi's non-blocking
// ReadAvailable: a goroutine reads into a bounded buffer.
type solConn struct {
	conn    net.Conn
	release func()

	mu     sync.Mutex
	buf    []byte
	err    error
	closed bool
	once   sync.Once
}

func (c *solConn) read() {
	p := make([]byte, 4096)
	for {
		n, err := c.conn.Read(p)
		c.mu.Lock()
		if n > 0 && len(c.buf) < solBuffer {
			c.buf = append(c.buf, p[:min(n, solBuffer-len(c.buf))]...)
		}
		if err != nil {
			c.err = err
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
}

func (c *solConn) ReadAvailable(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.buf) == 0 {
		if c.err != nil && !c.closed {
			return 0, c.err
		}
		return 0, nil
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

func (c *solConn) Write(p []byte) (int, error) {
	c.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	return c.conn.Write(p)
}

// SendBreak: a Unix socket has no BREAK.
func (c *solConn) SendBreak(context.Context) error { return hal.ErrNotSupported }

func (c *solConn) Close() error {
	var err error
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		err = c.conn.Close()
		c.release()
	})
	return err
}
