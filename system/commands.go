package system

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/kernel/faults"
	"github.com/rlgo/redleaf/kernel/pci"
	"github.com/rlgo/redleaf/system/sh"
)

// Exit statuses of the commands.
const (
	statusOK    = 0
	statusError = 1
	statusUsage = 2
)

// Register adds the system's commands to the shell's registry.
func (s *System) Register(r *sh.Registry) {
	kinds := strings.Join(faults.Kinds(), "|")
	r.RegisterView("domains", "list the domains: name, id, kind, state, shadow, RRefs, calls in/out, faults, restarts", sh.Func(s.cmdDomains))
	r.Register("kill", "terminate a domain (a shadowed one is re-created on its next call): kill NAME", sh.Func(s.cmdKill))
	r.Register("restart", "restart a domain: restart NAME", sh.Func(s.cmdRestart))
	r.Register("inject", "arm a fault in a domain for its next call: inject NAME "+kinds, sh.Func(s.cmdInject))
	r.Register("blk", "use the RAM disk through its shadow: blk read LBA | blk write LBA TEXT | blk info", sh.Func(s.cmdBlk))
	r.Register("nvme", "use the NVMe disk through its shadow: nvme read LBA | nvme write LBA TEXT (flushed) | nvme info", sh.Func(s.cmdNVMe))
	r.Register("linuxnvme", "measure Linux's NVMe driver on a second controller (the Linux half of Rv6's benchnvme): "+linuxUsage, sh.Func(s.cmdLinuxNVMe))
	r.RegisterView("ifconfig", "show the NIC domain's link and counters, the UDP echo service's, and the TCP/IP stack domain's instance (boot with rl.net=virtio)", sh.Func(s.cmdIfconfig))
	r.RegisterView("lspci", "list the PCI devices and who drives each: a domain, or a Linux driver", sh.Func(s.cmdLspci))
	r.Register("call", "make a null call into a service (null: no shadow; ramdisk: through its shadow): call NAME", sh.Func(s.cmdCall))
}

func usage(p *sh.Proc, line string) int {
	p.Errorf("usage: %s", line)
	return statusUsage
}

// cmdDomains lists the domains. The counts are the current instance's,
// except FAULTS, which counts the failures of every instance of the name:
// with RESTARTS, what a person wants to see after injecting a fault.
func (s *System) cmdDomains(_ context.Context, p *sh.Proc) int {
	if len(p.Args) != 1 {
		return usage(p, "domains")
	}
	infos := s.m.List()
	tw := tabwriter.NewWriter(p.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tKIND\tSTATE\tSHADOW\tRREFS\tCALLS-IN\tCALLS-OUT\tFAULTS\tRESTARTS")
	for _, in := range infos {
		guard := "-"
		if svc := s.service(in.Name); svc != nil && svc.guard != nil {
			guard = "yes"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n",
			in.Name, in.ID, in.Kind, in.State, guard, in.RRefs, in.CallsIn, in.CallsOut, s.Failures(in.Name), in.Restarts)
	}
	tw.Flush()
	for _, in := range infos {
		if in.Err != nil {
			p.Printf("%s: %v\n", in.Name, in.Err)
		}
	}
	if armed := s.inj.Armed(); len(armed) > 0 {
		for _, n := range armed {
			p.Printf("%s: %s fault armed for its next call\n", n, s.inj.Pending(n))
		}
	}
	return statusOK
}

func (s *System) cmdKill(_ context.Context, p *sh.Proc) int {
	if len(p.Args) != 2 {
		return usage(p, "kill NAME")
	}
	name := p.Args[1]
	d, err := s.Kill(name)
	if err != nil {
		p.Errorf("%v", err)
		return statusError
	}
	if svc := s.service(name); svc != nil && svc.guard != nil {
		p.Printf("killed %s (#%d); its shadow re-creates it on its next call\n", name, d.ID())
	} else {
		p.Printf("killed %s (#%d)\n", name, d.ID())
	}
	return statusOK
}

func (s *System) cmdRestart(_ context.Context, p *sh.Proc) int {
	if len(p.Args) != 2 {
		return usage(p, "restart NAME")
	}
	name := p.Args[1]
	d, err := s.Restart(name)
	if err != nil {
		p.Errorf("%v", err)
		return statusError
	}
	p.Printf("restarted %s as #%d\n", name, d.ID())
	return statusOK
}

func (s *System) cmdInject(_ context.Context, p *sh.Proc) int {
	line := "inject NAME " + strings.Join(faults.Kinds(), "|")
	if len(p.Args) != 3 {
		return usage(p, line)
	}
	name, kind := p.Args[1], p.Args[2]
	if !faults.IsKind(kind) {
		p.Errorf("unknown fault kind %q", kind)
		return usage(p, line)
	}
	if err := s.Inject(name, kind); err != nil {
		p.Errorf("%v", err)
		return statusError
	}
	p.Printf("armed %s in %s: it fires on its next call\n", kind, name)
	return statusOK
}

func (s *System) cmdCall(_ context.Context, p *sh.Proc) int {
	if len(p.Args) != 2 {
		return usage(p, "call NAME")
	}
	name := p.Args[1]
	if err := s.Call(name); err != nil {
		p.Errorf("%s: %v", name, err)
		return statusError
	}
	p.Printf("ok\n")
	return statusOK
}

func (s *System) cmdBlk(_ context.Context, p *sh.Proc) int { return s.blockCmd(p, s.ramdisk) }

func (s *System) cmdNVMe(_ context.Context, p *sh.Proc) int {
	if s.nvme == nil {
		p.Errorf("%v", errNoNVMe)
		return statusError
	}
	return s.blockCmd(p, s.nvme)
}

// blockCmd is the shell command of the block device d (blk for the RAM
// disk, nvme for the NVMe disk): info, read LBA, write LBA TEXT.
func (s *System) blockCmd(p *sh.Proc, d *blockDev) int {
	c := d.cmd
	if len(p.Args) < 2 {
		return usage(p, fmt.Sprintf("%s read LBA | %s write LBA TEXT | %s info", c, c, c))
	}
	switch op := p.Args[1]; op {
	case "info":
		if len(p.Args) != 2 {
			return usage(p, c+" info")
		}
		bs, err := d.dev.BlockSize()
		if err != nil {
			p.Errorf("%v", err)
			return statusError
		}
		n, err := d.dev.NumBlocks()
		if err != nil {
			p.Errorf("%v", err)
			return statusError
		}
		where := ""
		if d.where != "" {
			where = " " + d.where
		}
		cur := d.guard.Current()
		p.Printf("%s: %d blocks of %d bytes (%s)%s; instance #%d, restarts %d, calls recovered by its shadow %d\n",
			d.name, n, bs, size(n*uint64(bs)), where, cur.ID(), cur.Restarts(), d.guard.Recovered())
		return statusOK
	case "read":
		if len(p.Args) != 3 {
			return usage(p, c+" read LBA")
		}
		lba, ok := parseLBA(p, p.Args[2])
		if !ok {
			return usage(p, c+" read LBA")
		}
		b, err := s.readBlock(d, lba)
		if err != nil {
			p.Errorf("%v", err)
			return statusError
		}
		p.Printf("%s\n", text(b[:]))
		return statusOK
	case "write":
		if len(p.Args) < 4 {
			return usage(p, c+" write LBA TEXT")
		}
		lba, ok := parseLBA(p, p.Args[2])
		if !ok {
			return usage(p, c+" write LBA TEXT")
		}
		t := strings.Join(p.Args[3:], " ")
		if len(t) > idl.BlockSize {
			p.Errorf("the text is %d bytes, more than a block (%d)", len(t), idl.BlockSize)
			return statusError
		}
		var b idl.Block
		copy(b[:], t)
		if err := s.writeBlock(d, lba, &b); err != nil {
			p.Errorf("%v", err)
			return statusError
		}
		p.Printf("wrote %d bytes to block %d\n", len(t), lba)
		return statusOK
	default:
		p.Errorf("unknown operation %q", op)
		return usage(p, fmt.Sprintf("%s read LBA | %s write LBA TEXT | %s info", c, c, c))
	}
}

// cmdLspci lists the PCI functions of the bus the system scanned (the
// machine's when it scanned none) and who drives each.
func (s *System) cmdLspci(_ context.Context, p *sh.Proc) int {
	if len(p.Args) != 1 {
		return usage(p, "lspci")
	}
	bus := s.bus
	if bus == nil {
		bus = &pci.Bus{}
	}
	devs, err := bus.Scan()
	if err != nil {
		p.Errorf("%v", err)
		return statusError
	}
	if err := pci.Format(p.Stdout, devs, s.PCIOwner); err != nil {
		p.Errorf("%v", err)
		return statusError
	}
	return statusOK
}

func parseLBA(p *sh.Proc, arg string) (uint64, bool) {
	lba, err := strconv.ParseUint(arg, 0, 64)
	if err != nil {
		p.Errorf("bad LBA %q: not a block number", arg)
		return 0, false
	}
	return lba, true
}

// text is b up to its first NUL, with anything that is not printable shown
// as '.': a block can hold anything, the console must not get control
// characters.
func text(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			return '.'
		}
		return r
	}, string(b))
}

// size formats a byte count in the largest binary unit that divides it.
func size(n uint64) string {
	for _, u := range []struct {
		name  string
		shift uint
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d %s", n>>u.shift, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
