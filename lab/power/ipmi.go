package power

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/command/chassis"
	"github.com/bougou/go-ipmi/pkg/types"
)

// ipmiDriver powers a machine through its BMC over IPMI 2.0 RMCP+
// (go-ipmi, as ipmitool -I lanplus): Chassis Control, Get Chassis Status
// read back, and Set System Boot Options for a one-time PXE boot. Each
// operation opens its own session: BMCs drop idle sessions after a
// minute or so, and a lab machine is powered a few times an hour.
type ipmiDriver struct {
	s          Spec
	host       string
	port       int
	user, pass string
}

func openIPMI(s Spec, pass string) (driver, error) {
	host, port, err := IPMIHostPort(s.Address)
	if err != nil {
		return nil, err
	}
	return &ipmiDriver{s: s, host: host, port: port, user: s.User, pass: pass}, nil
}

// session runs f in an RMCP+ session.
func (d *ipmiDriver) session(ctx context.Context, f func(*client.Client) error) error {
	c, err := client.NewClient(d.host, d.port, d.user, d.pass)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	c.WithTimeout(2 * time.Second).WithRetry(1)
	if err := c.Connect(ctx); err != nil {
		return ipmiErr(fmt.Errorf("opening a session with %s:%d: %w", d.host, d.port, err))
	}
	defer c.Close(context.WithoutCancel(ctx))
	return ipmiErr(f(c))
}

func ipmiErr(err error) error {
	if err == nil {
		return nil
	}
	// go-ipmi flattens the errors of the cipher suites it tried into
	// one message, so the RAKP failure is recognized by its text too.
	var rs *types.RmcpStatusError
	msg := err.Error()
	if errors.Is(err, client.ErrRAKPAuthentication) || errors.As(err, &rs) ||
		strings.Contains(msg, client.ErrRAKPAuthentication.Error()) || strings.Contains(msg, "RMCP+ status") {
		return fmt.Errorf("%w: %w", ErrAuth, err)
	}
	var re *types.ResponseError
	if errors.As(err, &re) {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	return fmt.Errorf("%w: %w", ErrUnreachable, err)
}

func (d *ipmiDriver) control(ctx context.Context, c chassis.ChassisControl) error {
	return d.session(ctx, func(cl *client.Client) error {
		_, err := cl.ChassisControl(ctx, c)
		return err
	})
}

func (d *ipmiDriver) on(ctx context.Context) error {
	return d.control(ctx, chassis.ChassisControlPowerUp)
}
func (d *ipmiDriver) off(ctx context.Context) error {
	return d.control(ctx, chassis.ChassisControlPowerDown)
}
func (d *ipmiDriver) cycle(context.Context) error { return errors.ErrUnsupported }
func (d *ipmiDriver) readable() bool              { return true }
func (d *ipmiDriver) close() error                { return nil }

func (d *ipmiDriver) state(ctx context.Context) (State, error) {
	st := Unknown
	err := d.session(ctx, func(cl *client.Client) error {
		r, err := cl.GetChassisStatus(ctx)
		if err != nil {
			return err
		}
		st = Off
		if r.PowerIsOn {
			st = On
		}
		return nil
	})
	return st, err
}

// bootPXE sets the boot flags to PXE for the next boot only, as
// `ipmitool chassis bootdev pxe` does (with options=efiboot for UEFI
// machines), and reads them back.
func (d *ipmiDriver) bootPXE(ctx context.Context) error {
	bootType := types.BIOSBootTypeEFI
	if d.s.Firmware == "bios" {
		bootType = types.BIOSBootTypeLegacy
	}
	return d.session(ctx, func(cl *client.Client) error {
		if err := cl.SetBootDevice(ctx, types.BootDeviceSelectorForcePXE, bootType, false); err != nil {
			return err
		}
		r, err := cl.GetSystemBootOptionsParam(ctx, types.BootOptionParamSelector_BootFlags, 0, 0)
		if err != nil {
			return err
		}
		f := r.ParamData
		var flags types.BootOptionParam_BootFlags
		if err := flags.Unpack(f); err != nil {
			return fmt.Errorf("%w: boot flags read back: %w", ErrRejected, err)
		}
		if !flags.BootFlagsValid || flags.Persist || flags.BootDeviceSelector != types.BootDeviceSelectorForcePXE {
			return fmt.Errorf("%w: the BMC accepted the one-time PXE boot but reads back %+v", ErrUnconfirmed, flags)
		}
		return nil
	})
}
