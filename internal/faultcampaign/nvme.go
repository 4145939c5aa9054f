package faultcampaign

import (
	"fmt"
	"time"

	"github.com/rlgo/redleaf/drivers/nvme"
	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/faults"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// NVMe is the NVMe driver (drivers/nvme) on a controller: QEMU's NVMe
// model through qtest in the tests. Every restart resets the controller
// and brings it up again.
type NVMe struct {
	Dev    hw.PCIDevice
	Config nvme.Config // the namespace must have 4 KiB blocks
	Blocks uint64      // blocks of the namespace the client uses (from 0)
}

// Name implements Target.
func (*NVMe) Name() string { return nvme.Kind }

// Unit implements Target.
func (*NVMe) Unit() string { return "blocks" }

// Start implements Target.
func (t *NVMe) Start(m *domain.Manager, inj *faults.Injector, p shadow.Policy, deadline time.Duration) (*shadow.Guard, Client, error) {
	if t.Dev == nil || t.Blocks == 0 {
		return nil, nil, fmt.Errorf("nvme: no controller or no blocks to use (set NVMe.Dev and NVMe.Blocks)")
	}
	d, err := m.Create(nvme.Kind, domain.Name(nvme.Kind),
		domain.GrantDevice(nvme.GrantPCI, t.Dev),
		domain.GrantDevice(nvme.GrantConfig, t.Config),
		domain.GrantDevice(nvme.GrantFaults, inj.Device()))
	if err != nil {
		return nil, nil, fmt.Errorf("nvme: %w", err)
	}
	g, err := shadow.New(m, d, p)
	if err != nil {
		return nil, nil, err
	}
	dev, err := domain.Connect[idl.BlockDevice](m.Kernel(), g, domain.Deadline(deadline))
	if err != nil {
		return nil, nil, err
	}
	return g, newBlockClient(dev, m.Kernel().Heap(), t.Blocks), nil
}

// Close implements Target.
func (*NVMe) Close() {}
