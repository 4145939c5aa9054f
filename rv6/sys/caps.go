package sys

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/rv6/fs/errno"
)

// Capabilities. A process holds a set of capability names (idl.CapAdmin,
// "nic:ixgbe0", ...): those its spawner passed it in SpawnReq.Caps, each of
// which the spawner had to hold (the kernel, which runs init, may pass any
// of those Rv6 was granted). Its program's domain is granted exactly
// those, under their names, besides "sys": Rv6 passes its own capability
// to the loader, which rebinds it for the new domain. Nothing is inherited:
// a child the process spawns gets none unless the process names them.

// A capKind is the IDL interface of a capability, known from its name.
type capKind int

const (
	kindMonitor capKind = iota // idl.CapAdmin: idl.Monitor
	kindNet                    // nic:NAME: idl.Net
	kindPort                   // nic:NAME.ctl: idl.Port
	kindBlock                  // blk:NAME: idl.BlockDevice
	kindInet                   // inet:NAME: idl.Inet
)

// kindOf is the kind of the capability name, or an error for a name that
// is none.
func kindOf(name string) (capKind, error) {
	switch {
	case name == idl.CapAdmin:
		return kindMonitor, nil
	case strings.HasPrefix(name, idl.CapNICPrefix) && len(name) > len(idl.CapNICPrefix)+len(idl.CapPortSuffix) && strings.HasSuffix(name, idl.CapPortSuffix):
		return kindPort, nil
	case strings.HasPrefix(name, idl.CapNICPrefix) && len(name) > len(idl.CapNICPrefix):
		return kindNet, nil
	case strings.HasPrefix(name, idl.CapBlockPrefix) && len(name) > len(idl.CapBlockPrefix):
		return kindBlock, nil
	case strings.HasPrefix(name, idl.CapInetPrefix) && len(name) > len(idl.CapInetPrefix):
		return kindInet, nil
	}
	return 0, fmt.Errorf("%q is no capability name (admin, nic:NAME, nic:NAME%s, blk:NAME, inet:NAME)", name, idl.CapPortSuffix)
}

// checkCaps returns the capability names of req, checked against what the
// spawner holds: parent's set, or (parent nil: the kernel's Run) every
// capability Rv6 was granted.
func (r *Rv6) checkCaps(parent *process, req idl.SpawnReq) ([]string, error) {
	names := splitNul(req.Caps)
	for i, n := range names {
		var held bool
		if parent != nil {
			held = slices.Contains(parent.caps, n)
		} else {
			r.capMu.Lock()
			_, held = r.caps[n]
			r.capMu.Unlock()
		}
		if !held {
			who := "the kernel did not grant it to rv6"
			if parent != nil {
				who = fmt.Sprintf("process %d (%s) does not hold it", parent.pid, parent.prog)
			}
			return nil, fmt.Errorf("spawn %s: capability %q: %s: %w", req.Prog, n, who, errno.EPERM)
		}
		if slices.Contains(names[:i], n) {
			return nil, fmt.Errorf("spawn %s: capability %q named twice: %w", req.Prog, n, errno.EINVAL)
		}
	}
	return names, nil
}

// capability returns Rv6's own capability name, imported at its first use.
func (r *Rv6) capability(name string) (any, error) {
	r.capMu.Lock()
	defer r.capMu.Unlock()
	c, ok := r.caps[name]
	if !ok {
		return nil, fmt.Errorf("capability %q: not granted to rv6: %w", name, errno.EPERM)
	}
	if c != nil {
		return c, nil
	}
	k, err := kindOf(name)
	if err != nil {
		return nil, err
	}
	grant := GrantCapPrefix + name
	switch k {
	case kindMonitor:
		c, err = domain.Import[idl.Monitor](r.ctx, grant)
	case kindNet:
		c, err = domain.Import[idl.Net](r.ctx, grant)
	case kindPort:
		c, err = domain.Import[idl.Port](r.ctx, grant)
	case kindBlock:
		c, err = domain.Import[idl.BlockDevice](r.ctx, grant)
	case kindInet:
		c, err = domain.Import[idl.Inet](r.ctx, grant)
	}
	if err != nil {
		return nil, fmt.Errorf("capability %q: %w", name, err)
	}
	r.caps[name] = c
	return c, nil
}

// load makes p's program a domain, granted p's syscalls and capabilities,
// and returns its loader handle and its Program.
func (r *Rv6) load(p *process) (uint64, idl.Program, error) {
	h, err := r.loader.Prepare(p.prog, fmt.Sprintf("proc.%d.%s", p.pid, p.prog))
	if err != nil {
		return 0, nil, err
	}
	for _, name := range p.caps {
		if err = r.grant(h, name); err != nil {
			break
		}
	}
	var prog idl.Program
	if err == nil {
		prog, err = r.loader.Start(h, p)
	}
	if err != nil {
		r.loader.Unload(h)
		return 0, nil, err
	}
	return h, prog, nil
}

// grant passes Rv6's capability name to the prepared domain h.
func (r *Rv6) grant(h uint64, name string) error {
	c, err := r.capability(name)
	if err != nil {
		return err
	}
	switch c := c.(type) {
	case idl.Monitor:
		return r.loader.GrantMonitor(h, name, c)
	case idl.Net:
		return r.loader.GrantNet(h, name, c)
	case idl.Port:
		return r.loader.GrantPort(h, name, c)
	case idl.BlockDevice:
		return r.loader.GrantBlock(h, name, c)
	case idl.Inet:
		return r.loader.GrantInet(h, name, c)
	}
	return fmt.Errorf("capability %q: of no kind the loader grants", name)
}
