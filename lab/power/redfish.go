package power

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"
)

// redfishDriver powers a machine through its BMC's Redfish service
// (gofish): ComputerSystem.Reset On/ForceOff, PowerState read back, and a
// one-time boot override to Pxe.
type redfishDriver struct {
	s   Spec
	api *gofish.APIClient
}

func openRedfish(ctx context.Context, s Spec, pass string) (driver, error) {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	api, err := gofish.ConnectContext(ctx, gofish.ClientConfig{
		Endpoint: strings.TrimSuffix(s.Address, "/"), Username: s.User, Password: pass,
		BasicAuth: true, Insecure: s.Insecure,
	})
	if err != nil {
		return nil, redfishErr(err)
	}
	return &redfishDriver{s: s, api: api}, nil
}

// redfishErr classifies a gofish error.
func redfishErr(err error) error {
	if err == nil {
		return nil
	}
	re := statusError(err)
	if re == nil {
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	switch re.HTTPReturnedStatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%w: %w", ErrAuth, err)
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	return fmt.Errorf("%w: %w", ErrRejected, err)
}

// statusError finds the HTTP error in err: itself, or the first of a
// collection's failed members.
func statusError(err error) *schemas.Error {
	var re *schemas.Error
	if errors.As(err, &re) {
		return re
	}
	var ce *schemas.CollectionError
	if errors.As(err, &ce) {
		for _, f := range ce.Failures {
			if errors.As(f, &re) {
				return re
			}
		}
	}
	return nil
}

// system finds the machine's ComputerSystem: Spec.System, or the only one.
func (r *redfishDriver) system(ctx context.Context) (*schemas.ComputerSystem, error) {
	systems, err := r.api.WithContext(ctx).Service.Systems()
	if err != nil {
		return nil, redfishErr(err)
	}
	var ids []string
	for _, s := range systems {
		if r.s.System == "" && len(systems) == 1 || s.ID == r.s.System {
			return s, nil
		}
		ids = append(ids, s.ID)
	}
	if r.s.System == "" {
		return nil, fmt.Errorf("%w: the BMC has %d systems (%s): set power.system to one of them", ErrRejected, len(systems), strings.Join(ids, ", "))
	}
	return nil, fmt.Errorf("%w: the BMC has no system %q (it has %s): fix power.system", ErrRejected, r.s.System, strings.Join(ids, ", "))
}

func (r *redfishDriver) reset(ctx context.Context, t schemas.ResetType) error {
	sys, err := r.system(ctx)
	if err != nil {
		return err
	}
	_, err = sys.Reset(t)
	return redfishErr(err)
}

func (r *redfishDriver) on(ctx context.Context) error { return r.reset(ctx, schemas.OnResetType) }
func (r *redfishDriver) off(ctx context.Context) error {
	return r.reset(ctx, schemas.ForceOffResetType)
}
func (r *redfishDriver) cycle(context.Context) error { return errors.ErrUnsupported }
func (r *redfishDriver) readable() bool              { return true }
func (r *redfishDriver) close() error                { r.api.Logout(); return nil }

func (r *redfishDriver) state(ctx context.Context) (State, error) {
	sys, err := r.system(ctx)
	if err != nil {
		return Unknown, err
	}
	switch sys.PowerState {
	case schemas.OnPowerState:
		return On, nil
	case schemas.OffPowerState:
		return Off, nil
	}
	// PoweringOn, PoweringOff, Paused: on the way somewhere.
	return Unknown, nil
}

// bootPXE sets a one-time boot override to Pxe and reads it back.
func (r *redfishDriver) bootPXE(ctx context.Context) error {
	sys, err := r.system(ctx)
	if err != nil {
		return err
	}
	boot := &schemas.Boot{
		BootSourceOverrideEnabled: schemas.OnceBootSourceOverrideEnabled,
		BootSourceOverrideTarget:  schemas.PxeBootSource,
	}
	if r.s.Firmware == "bios" {
		boot.BootSourceOverrideMode = schemas.LegacyBootSourceOverrideMode
	} else if r.s.Firmware == "uefi" {
		boot.BootSourceOverrideMode = schemas.UEFIBootSourceOverrideMode
	}
	if err := sys.SetBoot(boot); err != nil {
		return redfishErr(err)
	}
	sys, err = r.system(ctx)
	if err != nil {
		return err
	}
	if sys.Boot.BootSourceOverrideEnabled != schemas.OnceBootSourceOverrideEnabled || sys.Boot.BootSourceOverrideTarget != schemas.PxeBootSource {
		return fmt.Errorf("%w: the BMC accepted the one-time PXE boot but reads back %q %q", ErrUnconfirmed,
			sys.Boot.BootSourceOverrideEnabled, sys.Boot.BootSourceOverrideTarget)
	}
	return nil
}
