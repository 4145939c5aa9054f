package system

import (
	"fmt"
	"reflect"
	"sync"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/rv6/sys"
	"github.com/rlgo/redleaf/system/monitor"
	"github.com/rlgo/redleaf/system/sh"
)

// What Rv6 may hand to its processes: the capabilities the kernel grants
// the Rv6 domain to pass on (idl.CapAdmin and friends). Rv6 hands one to a
// process only when the process's spawner passes it (SpawnReq.Caps), and
// the kernel runs init with all of them, which passes them to the
// console's login shell.
//
//   - admin: the monitor with every command of the registry (monitor.Admin);
//   - blk:nvme: the NVMe domain through its shadow, when the machine has one;
//   - inet:virtio0: the TCP/IP stack's sockets (services/netstack) through
//     its shadow, when rl.net=virtio rl.netstack=1 started it;
//   - nic:ixgbe0, nic:ixgbe1: the ixgbe ports' drivers through their
//     shadows, and nic:ixgbe0.ctl, nic:ixgbe1.ctl, the kernel's control of
//     each port (its model's traffic, MAC loopback): the ports start when a
//     process is first granted one of them (a process holding a capability
//     has it bound in its domain), which is init, so with Rv6 they start
//     at boot; ifconfig still starts them on first use when Rv6 does not
//     run.

// Rv6Caps lists the names of the capabilities Rv6 may hand out.
func (s *System) Rv6Caps() []string {
	caps := []string{idl.CapAdmin}
	if s.nvme != nil {
		caps = append(caps, idl.CapBlockPrefix+NVMeName)
	}
	for i := range IxgbeModelPorts {
		name := fmt.Sprintf("%s%s%d", idl.CapNICPrefix, IxgbePrefix, i)
		caps = append(caps, name, name+idl.CapPortSuffix)
	}
	if s.nic != nil && s.nic.inet != nil {
		caps = append(caps, InetCap)
	}
	return caps
}

// Rv6Grants are the grants of the Rv6 domain that Rv6Caps names: the
// capabilities under sys.GrantCapPrefix and their names, and the list.
func (s *System) Rv6Grants(reg *sh.Registry) []domain.CreateOption {
	names := s.Rv6Caps()
	opts := []domain.CreateOption{domain.GrantDevice(sys.GrantCaps, names)}
	caps := s.Rv6Capabilities(reg)
	for _, n := range names {
		opts = append(opts, domain.Grant(sys.GrantCapPrefix+n, caps[n]))
	}
	return opts
}

// Rv6Capabilities are what the capabilities of Rv6Caps are bound to, by
// name (admin's monitor runs reg's commands).
func (s *System) Rv6Capabilities(reg *sh.Registry) map[string]domain.Provider {
	caps := map[string]domain.Provider{}
	for _, n := range s.Rv6Caps() {
		var p domain.Provider
		switch {
		case n == idl.CapAdmin:
			p = s.m.Export(monitor.Admin(reg))
		case n == idl.CapBlockPrefix+NVMeName:
			p = s.nvme.guard
		case n == InetCap:
			p = s.nic.inet
		default:
			port, ctl := n[len(idl.CapNICPrefix):], false
			if len(port) > len(idl.CapPortSuffix) && port[len(port)-len(idl.CapPortSuffix):] == idl.CapPortSuffix {
				port, ctl = port[:len(port)-len(idl.CapPortSuffix)], true
			}
			p = portProvider{s: s, name: port, ctl: ctl}
		}
		caps[n] = p
	}
	return caps
}

// portProvider binds capabilities to the ixgbe port name (its driver's
// shadow, or with ctl the kernel's control of it), starting the ports at
// the first binding.
type portProvider struct {
	s    *System
	name string
	ctl  bool
}

func (p portProvider) Provide(holder *domain.Domain, iface reflect.Type, opts ...domain.BindOption) (any, error) {
	port, err := p.s.ixgbePort(p.name)
	if err != nil {
		return nil, err
	}
	if p.ctl {
		return p.s.m.Export(&portControl{s: p.s, port: port}).Provide(holder, iface, opts...)
	}
	return port.guard.Provide(holder, iface, opts...)
}

// portControl is the kernel's control of one port (idl.Port), exported to
// Rv6 and passed on to the programs that measure and test the port.
type portControl struct {
	s    *System
	port *ixgbePort
}

// Info implements idl.Port.
func (c *portControl) Info() (idl.PortInfo, error) { return c.port.info(), nil }

// Generate implements idl.Port.
func (c *portControl) Generate(size int32) error {
	if c.port.model == nil {
		return fmt.Errorf("%s is %s: its traffic is the wire's, there is no model to generate it", c.port.name, c.port.where)
	}
	if size == 0 {
		c.port.model.Generate(0, nil)
		return nil
	}
	if size < minFrame || size > maxFrame {
		return fmt.Errorf("%s: bad frame size %d: want %d..%d", c.port.name, size, minFrame, maxFrame)
	}
	c.port.generate(int(size))
	return nil
}

// loopbackMu keeps two processes (two nictests) from switching the ports
// at once.
var loopbackMu sync.Mutex

// Loopback implements idl.Port: it sets the port's loopback switch to on
// and restarts its domain through its shadow (the new instance starts in
// that mode and gets promiscuous mode replayed). If the restart fails, the
// switch goes back and the port is restarted once more, to leave it as it
// was.
func (c *portControl) Loopback(on bool) (idl.PortInfo, error) {
	port := c.port
	if !loopbackMu.TryLock() {
		return port.info(), fmt.Errorf("%s: another nictest is switching the ports", port.name)
	}
	defer loopbackMu.Unlock()
	what := "in MAC loopback"
	if !on {
		what = "out of loopback"
	}
	port.mode.SetLoopback(on)
	if _, err := c.s.Restart(port.name); err != nil {
		port.mode.SetLoopback(!on)
		if _, rerr := c.s.Restart(port.name); rerr != nil {
			c.s.logf("%s: restarting it back after a failed switch: %v", port.name, rerr)
		}
		return port.info(), fmt.Errorf("%s: restarting it %s: %w", port.name, what, err)
	}
	return port.info(), nil
}

// info describes the port.
func (p *ixgbePort) info() idl.PortInfo {
	w := p.wire()
	last := ""
	if p.guard.Restarts() > 0 {
		last = replayed(p.guard)
	}
	return idl.PortInfo{Name: p.name, Where: p.where, Model: p.model != nil,
		Instance: uint32(p.guard.Current().ID()), Restarts: int32(p.guard.Restarts()), LastRestart: last,
		Delivered: w.delivered, Sent: w.sent}
}
