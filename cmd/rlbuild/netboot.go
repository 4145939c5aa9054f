package main

import (
	"errors"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/rlgo/redleaf/netboot/profile"
	"github.com/rlgo/redleaf/netboot/server"
)

func netbootCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "netboot",
		Short: "Boot lab machines from the network: DHCP, TFTP and HTTP serving built images",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(netbootServeCmd())
	return cmd
}

func netbootServeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve DHCP (full or proxy), TFTP and HTTP so that machines PXE-boot built images",
		Long: `Serves a boot network on one interface: DHCP (a full server with a pool,
reservations and persistent leases, or proxyDHCP beside an existing DHCP
server), TFTP for the iPXE binaries, and HTTP for iPXE scripts, kernels,
initrds and the API (/api/machines, next boot, boot events, results).

Quick start, every machine boots one build, addresses from br0's subnet:

  rlbuild netboot serve --iface br0 --artifacts out/qemu

Profiles per MAC, proxy or full DHCP, reloaded when the file changes:

  rlbuild netboot serve --config configs/lab.yaml

Binding ports 67 and 69 needs root or CAP_NET_BIND_SERVICE (and
CAP_NET_RAW for the interface binding on kernels before 5.7).

The API calls that change what a machine boots (PUT and DELETE
/api/machines/MAC/next-boot) and the one that reads results
(GET /api/boots/ID/results) need the operator token:

  curl -H "Authorization: Bearer $(cat netboot-state/operator-token)" \
       -X PUT -d '{"profile":"qemu","once":true}' \
       http://10.0.0.1:8080/api/machines/52-54-00-12-34-56/next-boot

The token file is --operator-token-file (or server.operator_token_file);
by default operator-token in the state directory, created on the first
start. It must be readable by its owner only (chmod 600).`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	file := f.StringP("config", "c", "", "netboot configuration file (YAML; see package netboot/profile)")
	iface := f.String("iface", "", "interface of the boot network (quick start; overrides server.interface)")
	artifacts := f.String("artifacts", "", "artifacts directory every machine boots (quick start)")
	proxy := f.Bool("proxy", false, "quick start: proxyDHCP beside an existing DHCP server instead of full DHCP")
	stateDir := f.String("state-dir", "", "leases and boot state (default: netboot-state, next to --config if given)")
	tokenFile := f.String("operator-token-file", "", "file with the operator token for the API calls that change boots, mode 0600 (default: operator-token in the state directory, created if missing)")
	httpPort := f.Int("http-port", 0, "HTTP port (default 8080; overrides server.http_port)")
	logFormat := f.String("log-format", "text", "log format: text or json")
	debug := f.Bool("debug", false, "log every DHCP packet, including those proxy mode ignores")

	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		var lf *profile.File
		var err error
		switch {
		case *file != "" && *artifacts != "":
			return errors.New("give either --config FILE or --artifacts DIR (quick start), not both")
		case *file != "":
			lf, err = profile.Load(*file)
		case *artifacts != "":
			if *iface == "" {
				return errors.New("--artifacts needs --iface: the interface of the boot network, e.g. --iface br0")
			}
			mode := "full"
			if *proxy {
				mode = "proxy"
			}
			lf, err = server.Quick(*iface, *artifacts, mode, "netboot-state")
		default:
			return errors.New("nothing to serve: give --config FILE, or --iface IFACE --artifacts DIR")
		}
		if err != nil {
			return err
		}
		if *iface != "" {
			lf.Server.Interface = *iface
		}
		if *stateDir != "" {
			lf.Server.StateDir = *stateDir
		}
		if *httpPort != 0 {
			lf.Server.HTTPPort = *httpPort
		}
		if *tokenFile != "" {
			lf.Server.OperatorTokenFile = *tokenFile
		}
		opts := &slog.HandlerOptions{}
		if *debug {
			opts.Level = slog.LevelDebug
		}
		var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
		if *logFormat == "json" {
			h = slog.NewJSONHandler(os.Stderr, opts)
		}
		srv, err := server.New(server.Config{File: lf, Log: slog.New(h)})
		if err != nil {
			return err
		}
		return srv.Run(cmd.Context())
	}
	return cmd
}
