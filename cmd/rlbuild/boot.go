package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rlgo/redleaf/config"
	"github.com/rlgo/redleaf/console"
	"github.com/rlgo/redleaf/images/manifest"
	"github.com/rlgo/redleaf/netboot/pxevm"
	"github.com/rlgo/redleaf/qemu"
)

func bootCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "boot",
		Short: "Boot a built image in QEMU, interactively or driven by a console script",
		Long: `Boots the artifacts of a config (out/<name>) or of --artifacts DIR in QEMU,
under TCG unless qemu.accel says kvm. Without --step or --script the serial
console is the terminal (Ctrl-A X quits QEMU). With them, rlbuild drives the
console: each expect step waits for a regular expression (at most --timeout),
each send step types a line; after the last step rlbuild waits for QEMU to
exit and exits with its status. A step that fails or times out ends QEMU
and exits non-zero. --nvme FILE attaches a raw image as an NVMe disk that
the guest writes to (the booted system drives the first one with its NVMe
domain). --nic NETDEV adds a virtio-net NIC on a QEMU network backend, e.g.
user,hostfwd=udp:127.0.0.1:5555-:7; with --append rl.net=virtio the booted
system drives the last one with its virtio-net domain and answers UDP echo
on it (kernel mode). --forward HOSTPORT:GUESTPORT forwards TCP from
127.0.0.1:HOSTPORT to the guest's port (10.0.2.15) through a virtio-net NIC
on QEMU's user network, and boots the TCP/IP stack on it (kernel mode), so
that e.g. "grant inet nc -l 7000" in Rv6's shell serves the host's port.
--linux-forward HOSTPORT:GUESTPORT adds a second virtio-net NIC, on a user
network of its own (guest 10.0.3.15), that the booted system leaves to
Linux and serves the network benchmarks' baseline on: Go's net/http on
port 80 with the image's /www, tcpbench on port 5001, kvstore on 11211
(kernel mode).

  rlbuild boot --mode uefi --step 'expect=\$ ' --step 'send=echo hi' \
    --step 'expect=(?m)^hi$' --step 'send=poweroff'`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.String("mode", "", "boot mode: kernel, uefi, bios or pxe (config key qemu.mode)")
	f.Int("memory", 0, "guest memory in MiB (config key qemu.memory_mib)")
	f.Int("cpus", 0, "guest CPUs (config key qemu.cpus)")
	f.String("accel", "", "accelerator: tcg or kvm (config key qemu.accel)")
	artifacts := f.String("artifacts", "", "artifacts directory to boot (default: the config's out); with it, --config is optional")
	steps := f.StringArray("step", nil, "console script step, repeatable and run in order: expect=REGEX, expect@90s=REGEX, send=TEXT, sleep=2s")
	script := f.String("script", "", "file of console script steps, one per line (# comments)")
	timeout := f.Duration("timeout", 2*time.Minute, "how long each expect step, and QEMU's exit after the script, may take")
	transcript := f.String("transcript", "", "also write the console output to this file")
	quiet := f.Bool("quiet", false, "do not copy the console to standard output in script mode")
	nvmeFiles := f.StringArray("nvme", nil, "attach FILE (a raw image) as an NVMe disk, serial rlN; the guest writes to it; repeatable")
	nics := f.StringArray("nic", nil, "add a virtio-net NIC on the QEMU -netdev backend NETDEV (without id=), e.g. user,hostfwd=udp:127.0.0.1:5555-:7; repeatable")
	forwards := f.StringArray("forward", nil, "forward TCP from 127.0.0.1:HOSTPORT to the guest's GUESTPORT, as HOSTPORT:GUESTPORT, through a virtio-net NIC running the TCP/IP stack (kernel mode); repeatable")
	linuxForwards := f.StringArray("linux-forward", nil, "forward TCP from 127.0.0.1:HOSTPORT to GUESTPORT of a second virtio-net NIC left to Linux, where the booted system serves the network benchmarks' baseline (Go net/http on 80, tcpbench on 5001, kvstore on 11211; kernel mode); repeatable")
	appendCmdline := f.String("append", "", "append TEXT to the kernel command line (kernel mode), e.g. rl.net=virtio")
	cf := addConfigFlags(cmd, map[string]string{"mode": "qemu.mode", "memory": "qemu.memory_mib", "cpus": "qemu.cpus", "accel": "qemu.accel"})

	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		script, err := loadSteps(*steps, *script)
		if err != nil {
			return err
		}
		fwds, err := qemu.ParseForwards(*forwards)
		if err != nil {
			return err
		}
		linuxFwds, err := qemu.ParseLinuxForwards(*linuxForwards, fwds)
		if err != nil {
			return err
		}
		q, dir, err := bootSettings(cmd, cf, *artifacts)
		if err != nil {
			return err
		}
		m, err := manifest.Load(dir)
		if err != nil {
			return err
		}
		qc, err := qemu.FromManifest(m, qemu.Mode(q.Mode))
		if err != nil {
			return err
		}
		qc.MemoryMiB, qc.CPUs, qc.Accel = q.MemoryMiB, q.CPUs, q.Accel
		for i, file := range *nvmeFiles {
			qc.ExtraDrives = append(qc.ExtraDrives, qemu.Drive{File: file, Format: "raw", Device: fmt.Sprintf("nvme,serial=rl%d", i)})
		}
		for i, nd := range *nics {
			id := fmt.Sprintf("nic%d", i)
			qc.ExtraArgs = append(qc.ExtraArgs, "-netdev", nd+",id="+id, "-device", "virtio-net-pci,netdev="+id)
		}
		if *appendCmdline != "" {
			if qc.Mode != qemu.Kernel {
				return fmt.Errorf("--append: %s mode boots the disk's own command line; use --mode kernel", qc.Mode)
			}
			qc.Cmdline = strings.TrimSpace(qc.Cmdline + " " + *appendCmdline)
		}
		if err := qc.AddForwards(fwds); err != nil {
			return err
		}
		if err := qc.AddLinuxForwards(linuxFwds); err != nil {
			return err
		}
		if len(script) == 0 {
			fmt.Fprintf(os.Stderr, "booting %s (%s, %s mode); Ctrl-A X quits QEMU\n", m.Name, m.Arch, q.Mode)
			run := qemu.Run
			if qc.Mode == qemu.PXE {
				run = func(ctx context.Context, qc qemu.Config) (int, error) {
					return pxevm.Run(ctx, m, qc, slog.New(slog.NewTextHandler(os.Stderr, nil)))
				}
			}
			code, err := run(cmd.Context(), qc)
			if err != nil {
				return exitError{code: exitCode(code), err: err}
			}
			return nil
		}
		var out io.Writer = os.Stdout
		if *quiet {
			out = io.Discard
		}
		if *transcript != "" {
			tf, err := os.Create(*transcript)
			if err != nil {
				return fmt.Errorf("--transcript: %w", err)
			}
			defer tf.Close()
			out = io.MultiWriter(out, tf)
		}
		return runScript(cmd, m, qc, script, *timeout, out)
	}
	return cmd
}

// bootSettings returns the QEMU settings and the artifacts directory:
// from the config, or from flags alone when only --artifacts is given.
func bootSettings(cmd *cobra.Command, cf *configFlags, artifacts string) (config.QEMU, string, error) {
	if artifacts != "" && !cmd.Flags().Changed("config") {
		q := config.DefaultQEMU
		f := cmd.Flags()
		if f.Changed("mode") {
			q.Mode, _ = f.GetString("mode")
		}
		if f.Changed("memory") {
			q.MemoryMiB, _ = f.GetInt("memory")
		}
		if f.Changed("cpus") {
			q.CPUs, _ = f.GetInt("cpus")
		}
		if f.Changed("accel") {
			q.Accel, _ = f.GetString("accel")
		}
		return q, artifacts, nil
	}
	c, err := cf.load(cmd)
	if err != nil {
		return config.QEMU{}, "", err
	}
	if artifacts == "" {
		artifacts = c.Out
	}
	return c.QEMU, artifacts, nil
}

func loadSteps(flags []string, file string) ([]console.Step, error) {
	var steps []console.Step
	if file != "" {
		fh, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("--script: %w", err)
		}
		defer fh.Close()
		if steps, err = console.ParseScript(fh, file); err != nil {
			return nil, err
		}
	}
	for _, s := range flags {
		st, err := console.ParseStep(s)
		if err != nil {
			return nil, fmt.Errorf("--step: %w", err)
		}
		steps = append(steps, st)
	}
	return steps, nil
}

func runScript(cmd *cobra.Command, m *manifest.Manifest, qc qemu.Config, steps []console.Step, timeout time.Duration, out io.Writer) error {
	var vm *qemu.VM
	var err error
	if qc.Mode == qemu.PXE {
		// A private network namespace with our netboot server in it.
		var closeLab func() error
		vm, closeLab, err = pxevm.Start(cmd.Context(), m, qc, slog.New(slog.NewTextHandler(os.Stderr, nil)), qemu.WithTranscript(out))
		if err != nil {
			return err
		}
		defer closeLab()
	} else if vm, err = qemu.Start(cmd.Context(), qc, qemu.WithTranscript(out)); err != nil {
		return err
	}
	defer vm.Close()
	if err := vm.Console().Run(cmd.Context(), steps, timeout); err != nil {
		vm.Kill()
		return err
	}
	select {
	case <-vm.Done():
	case <-time.After(timeout):
		vm.Kill()
		return fmt.Errorf("QEMU still running %v after the last script step: end the script with send=poweroff, or raise --timeout", timeout)
	case <-cmd.Context().Done():
		return cmd.Context().Err()
	}
	code, err := vm.Wait()
	if err != nil {
		return exitError{code: exitCode(code), err: err}
	}
	fmt.Fprintln(os.Stderr, "\nrlbuild: script done, QEMU exited with status 0")
	return nil
}

func exitCode(qemuCode int) int {
	if qemuCode > 0 && qemuCode < 126 {
		return qemuCode
	}
	return 1
}
