// Package vbmc is a virtual baseboard management controller for QEMU VMs,
// as sushy-tools and virtualbmc are for OpenStack's: each VM gets a BMC
// that speaks Redfish (HTTP) and IPMI 2.0 over RMCP+ (UDP, through go-ipmi's
// BMC server), whose power and boot-device operations drive QEMU over QMP
// (see Machine) and whose IPMI Serial-over-LAN is the VM's serial port.
// Lab machines that are VMs are thus powered and netbooted exactly as
// hardware is, by the same lab/power backends and the same tools
// (ipmitool, redfishtool).
//
// It runs in-process (Start) and behind `rlbuild lab vm`.
package vbmc

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/clock"
	"github.com/bougou/go-ipmi/pkg/server"
	"github.com/bougou/go-ipmi/pkg/transport/udp"
)

// Network opens the BMC's sockets; privnet.NS satisfies it, so a BMC can
// listen inside a lab's network namespace.
type Network interface {
	Listen(network, addr string) (net.Listener, error)
	ListenUDP(network string, laddr *net.UDPAddr) (*net.UDPConn, error)
}

type hostNetwork struct{}

func (hostNetwork) Listen(network, addr string) (net.Listener, error) {
	return net.Listen(network, addr)
}

func (hostNetwork) ListenUDP(network string, laddr *net.UDPAddr) (*net.UDPConn, error) {
	return net.ListenUDP(network, laddr)
}

// Config describes one virtual BMC.
type Config struct {
	// Name is the machine's name: its Redfish system id.
	Name string
	// QMPSocket is the VM's QMP socket (qemu.Config.QMPSocket).
	QMPSocket string
	// SerialSocket is the VM's serial socket (qemu.Config.SerialSocket),
	// for IPMI SOL; empty means no SOL.
	SerialSocket string
	// User and Password are the credentials of both protocols (IPMI
	// limits them to 16 and 20 bytes).
	User, Password string
	// Redfish is the TCP address the Redfish service listens on (e.g.
	// "127.0.0.1:0"); empty means no Redfish.
	Redfish string
	// IPMI is the UDP address the RMCP+ service listens on (e.g.
	// "127.0.0.1:0"; the IPMI port is 623); empty means no IPMI.
	IPMI string
	// Net opens the sockets (default: the host's network).
	Net Network
	// Log receives one line per power or boot action (default: discard).
	Log *slog.Logger
	// Timeout bounds each power action (default 30 s).
	Timeout time.Duration
}

func (c *Config) validate() error {
	var errs []string
	if c.Name == "" || strings.ContainsAny(c.Name, "/?#% ") {
		errs = append(errs, fmt.Sprintf("name %q: want a machine name without '/', '?', '#', '%%' or spaces (it is the Redfish system id)", c.Name))
	}
	if c.QMPSocket == "" {
		errs = append(errs, "no QMP socket: start the VM with qemu.Config.QMPSocket and pass its path")
	}
	if c.User == "" || c.Password == "" {
		errs = append(errs, "user and password are required (both protocols authenticate every client)")
	}
	if c.IPMI != "" && (len(c.User) > bmc.MaxUserNameLen || len(c.Password) > bmc.MaxPasswordLen) {
		errs = append(errs, fmt.Sprintf("IPMI limits the user to %d and the password to %d bytes", bmc.MaxUserNameLen, bmc.MaxPasswordLen))
	}
	if c.Redfish == "" && c.IPMI == "" {
		errs = append(errs, "neither a Redfish nor an IPMI address: give at least one")
	}
	if len(errs) > 0 {
		return fmt.Errorf("vbmc %s: %s", c.Name, strings.Join(errs, "; "))
	}
	return nil
}

// BMC is a running virtual BMC.
type BMC struct {
	// Machine is the VM it drives.
	Machine *Machine
	// RedfishURL is the Redfish service's base URL (http://host:port),
	// empty without Redfish.
	RedfishURL string
	// IPMIAddr is the RMCP+ service's host:port, empty without IPMI.
	IPMIAddr string

	httpSrv *http.Server
	ipmiSrv *server.Server
	wg      sync.WaitGroup
	once    sync.Once
	cancel  context.CancelFunc
}

// maxConcurrent bounds the Redfish requests in flight: a lab's agent
// sends one at a time, a flood gets 503s.
const maxConcurrent = 16

// Start connects to the VM's QMP socket and starts the BMC's services.
// Close it when done; the VM keeps running.
func Start(ctx context.Context, cfg Config) (*BMC, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Net == nil {
		cfg.Net = hostNetwork{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	m, err := NewMachine(ctx, cfg.QMPSocket, MachineOptions{Timeout: cfg.Timeout})
	if err != nil {
		return nil, fmt.Errorf("vbmc %s: %w", cfg.Name, err)
	}
	var guid [16]byte
	rand.Read(guid[:])
	guid[6] = guid[6]&0x0f | 0x40 // a version 4 UUID
	guid[8] = guid[8]&0x3f | 0x80
	uuid := fmt.Sprintf("%x-%x-%x-%x-%x", guid[0:4], guid[4:6], guid[6:8], guid[8:10], guid[10:16])

	sctx, cancel := context.WithCancel(context.Background())
	b := &BMC{Machine: m, cancel: cancel}
	fail := func(err error) (*BMC, error) {
		b.Close()
		return nil, fmt.Errorf("vbmc %s: %w", cfg.Name, err)
	}
	if cfg.Redfish != "" {
		l, err := cfg.Net.Listen("tcp", cfg.Redfish)
		if err != nil {
			return fail(fmt.Errorf("redfish: %w", err))
		}
		rf := &redfish{name: cfg.Name, uuid: uuid, user: cfg.User, pass: cfg.Password, m: m, log: cfg.Log}
		b.httpSrv = &http.Server{
			Handler:           limit(rf, maxConcurrent),
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      2 * time.Minute, // a power action waits for QEMU
			IdleTimeout:       time.Minute,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(cfg.Log.Handler(), slog.LevelWarn),
		}
		b.RedfishURL = "http://" + l.Addr().String()
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.httpSrv.Serve(l)
		}()
	}
	if cfg.IPMI != "" {
		ua, err := net.ResolveUDPAddr("udp", cfg.IPMI)
		if err != nil {
			return fail(fmt.Errorf("ipmi address %q: %w", cfg.IPMI, err))
		}
		conn, err := cfg.Net.ListenUDP("udp", ua)
		if err != nil {
			return fail(fmt.Errorf("ipmi: %w", err))
		}
		h := &ipmiHAL{ch: &ipmiChassis{m: m}}
		if cfg.SerialSocket != "" {
			h.console = &serialConsole{path: cfg.SerialSocket}
		}
		info := bmc.DeviceInfo{DeviceID: 0x20, DeviceRevision: 1, FirmwareMajor: 1, IPMIVersion: 0x20,
			ManufacturerID: 0x0000, ProductID: 0x0001}
		bm := bmc.New(info, guid, h, bmc.WithClock(clock.Real), bmc.WithV15Disabled())
		u, err := bm.Users.Add(2, cfg.User)
		if err != nil {
			conn.Close()
			return fail(fmt.Errorf("ipmi user: %w", err))
		}
		u.SetPassword([]byte(cfg.Password))
		u.Enabled = true
		u.ChannelAccess[1] = bmc.UserChannelAccess{MaxPrivilege: bmc.PrivilegeLevelAdministrator, Enabled: true}
		// IPMI v1.5 (-I lan) authenticates with MD5 or less and does not
		// encrypt: only RMCP+ (-I lanplus) is served.
		b.ipmiSrv = server.NewServer(bm, udp.Wrap(conn, udp.WithReadTimeout(time.Second)), server.WithV15Disabled())
		b.IPMIAddr = conn.LocalAddr().String()
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.ipmiSrv.Serve(sctx)
		}()
	}
	cfg.Log.Info("virtual BMC", "machine", cfg.Name, "redfish", b.RedfishURL, "ipmi", b.IPMIAddr)
	return b, nil
}

// limit answers 503 beyond n concurrent requests.
func limit(h http.Handler, n int) http.Handler {
	sem := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
			h.ServeHTTP(w, r)
		default:
			w.Header().Set("Retry-After", "1")
			rfError(w, http.StatusServiceUnavailable, "Base.1.8.ServiceTemporarilyUnavailable", "too many requests in flight")
		}
	})
}

// Close stops the services and the QMP connection; the VM keeps running.
func (b *BMC) Close() error {
	var err error
	b.once.Do(func() {
		b.cancel()
		if b.httpSrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = errors.Join(err, b.httpSrv.Shutdown(ctx))
			cancel()
		}
		if b.ipmiSrv != nil {
			err = errors.Join(err, b.ipmiSrv.Close())
		}
		b.wg.Wait()
		err = errors.Join(err, b.Machine.Close())
	})
	return err
}
