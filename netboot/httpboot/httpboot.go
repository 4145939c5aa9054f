// Package httpboot is the HTTP side of netboot: what iPXE and UEFI HTTP
// boot fetch, and the API the lab runner and booted images use.
//
//	GET  /ipxe/{mac}                      iPXE script of the machine's next boot (starts a boot)
//	GET  /boot/{file}                     iPXE binaries, for UEFI HTTP boot
//	GET  /images/{profile}/{file}         kernel, initrd, disk image (Range, HEAD)
//	GET  /api/machines                    machines seen, with their next boot
//	GET  /api/machines/{mac}              one machine: next boot, boots, events, results (sizes)
//	GET  /api/machines/{mac}/events       its boot-event log
//	GET  /api/machines/{mac}/next-boot    what it boots next and why
//	PUT  /api/machines/{mac}/next-boot    {"profile": "NAME" or "local", "once": true}   (operator)
//	DELETE /api/machines/{mac}/next-boot  back to the configuration file                 (operator)
//	GET  /api/boots/{id}/results          a boot's results with their bodies             (operator)
//	POST /api/booted                      the image is up       (per-boot token)
//	POST /api/results                     the image's results   (per-boot token)
//	GET  /metrics                         Prometheus text format
//
// Who may do what. Anyone on the boot network reaches this server, so:
//
//   - Calls marked "operator" need the operator's token (package
//     operator) as "Authorization: Bearer TOKEN"; without one configured
//     they are refused.
//   - GET /ipxe/{mac} starts a boot (it uses up a once-only boot and
//     issues the boot's token) only when it comes from the address the
//     machine with that MAC has on the boot network (Server.Owns: its
//     DHCP lease, or the kernel's neighbour table). From anywhere else
//     it is refused and changes nothing.
//   - Each boot gets a random token that the kernel command line carries
//     (rl.token=, with rl.report= naming this server's /api). The image
//     authenticates its reports with it ("Authorization: Bearer TOKEN"
//     or ?token=TOKEN). A token is bound to its boot: it is accepted
//     only from that boot's address (or one the machine's MAC owns now),
//     until it expires (Limits.TokenTTL). Only its SHA-256 is stored.
//   - The read views show what boots happened and the sizes of their
//     results, never the bodies.
//
// Everything kept is bounded (Limits): boots per machine, machines not
// in the lab file, posts and bytes per boot, bytes in total.
package httpboot

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rlgo/redleaf/bootparam"
	"github.com/rlgo/redleaf/netboot/events"
	"github.com/rlgo/redleaf/netboot/files"
	"github.com/rlgo/redleaf/netboot/ipxe"
	"github.com/rlgo/redleaf/netboot/operator"
	"github.com/rlgo/redleaf/netboot/profile"
)

// Server serves HTTP. Set Profiles, Events, BaseURL, Owns and Operator.
type Server struct {
	// Profiles decides what machines boot.
	Profiles *profile.Store
	// Events is the boot-event log.
	Events *events.Log
	// BootFiles are the iPXE binaries served under /boot/.
	BootFiles fs.FS
	// BaseURL is how clients reach this server, e.g.
	// "http://10.0.0.1:8080", for the URLs in scripts.
	BaseURL string
	// StateDir keeps the boots and their results across restarts (""
	// keeps them in memory).
	StateDir string
	// Owns reports whether ip is the address of the machine with mac on
	// the boot network. Scripts are served, and boot tokens accepted,
	// only to a machine's own address. Nil: no address is any machine's,
	// so no boot starts.
	Owns func(mac net.HardwareAddr, ip netip.Addr) bool
	// Known reports whether a machine is in the lab file (or has a next
	// boot set): its boots are never pushed out by other machines'.
	Known func(mac string) bool
	// Operator is the operator's credential; the zero Token refuses
	// every operator call.
	Operator operator.Token
	// Limits bound what is kept and accepted.
	Limits Limits
	// Log gets one line per request that is not an API read.
	Log *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time

	once    sync.Once
	openErr error
	mux     *http.ServeMux
	mu      sync.Mutex
	boots   *boots
	dirs    map[string]*files.Dir // artifacts directories by path
	refused atomic.Uint64         // scripts refused to another address
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.once.Do(s.routes)
	s.mux.ServeHTTP(w, r)
}

// operator checks the operator's credential, answering 401 without it.
func (s *Server) operator(w http.ResponseWriter, r *http.Request) bool {
	if s.Operator.Check(r) {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="rlbuild netboot operator"`)
	msg := "this call needs the operator token as Authorization: Bearer TOKEN (the token is in the operator token file, see `rlbuild netboot serve --help`)"
	if !s.Operator.Valid() {
		msg = "no operator token is configured: this call is refused"
	}
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": msg})
	s.log().Warn("http: operator call refused", "method", r.Method, "path", r.URL.Path, "client", r.RemoteAddr)
	return false
}

// Open loads the boots kept in StateDir. ServeHTTP calls it on the
// first request; call it first to see its error.
func (s *Server) Open() error {
	s.once.Do(s.routes)
	return s.openErr
}

func (s *Server) routes() {
	s.Limits = s.Limits.withDefaults()
	s.boots = newBoots(s.Limits, s.Known)
	s.dirs = map[string]*files.Dir{}
	if s.StateDir != "" {
		damage, err := s.boots.open(filepath.Join(s.StateDir, "http-boots.jsonl"))
		if err != nil {
			s.openErr = err
			s.log().Error("http: boots and results not loaded: reports are refused", "err", err)
		} else if damage != nil {
			s.log().Warn("http: skipped a damaged last record of the boots file", "line", damage.Line, "err", damage.Err.Error())
		}
	}
	m := http.NewServeMux()
	m.HandleFunc("GET /ipxe/{mac}", s.script)
	m.HandleFunc("GET /boot/{file...}", s.bootFile)
	m.HandleFunc("GET /images/{profile}/{file...}", s.image)
	m.HandleFunc("GET /api/machines", s.machines)
	m.HandleFunc("GET /api/machines/{mac}", s.machine)
	m.HandleFunc("GET /api/machines/{mac}/events", s.machineEvents)
	m.HandleFunc("GET /api/machines/{mac}/next-boot", s.getNext)
	m.HandleFunc("PUT /api/machines/{mac}/next-boot", s.putNext)
	m.HandleFunc("DELETE /api/machines/{mac}/next-boot", s.deleteNext)
	m.HandleFunc("GET /api/boots/{id}/results", s.results)
	m.HandleFunc("POST /api/booted", s.report)
	m.HandleFunc("POST /api/results", s.report)
	m.HandleFunc("GET /metrics", s.metrics)
	s.mux = m
}

// ScriptURL returns the URL of a machine's iPXE script.
func (s *Server) ScriptURL(mac net.HardwareAddr) string {
	return s.BaseURL + "/ipxe/" + strings.ReplaceAll(mac.String(), ":", "-")
}

// BootFileURL returns the URL of an iPXE binary.
func (s *Server) BootFileURL(name string) string { return s.BaseURL + "/boot/" + name }

func parseMAC(w http.ResponseWriter, r *http.Request) (net.HardwareAddr, bool) {
	mac, err := net.ParseMAC(r.PathValue("mac"))
	if err != nil || len(mac) != 6 {
		http.Error(w, fmt.Sprintf("%q is not a MAC address (52:54:00:12:34:56 or 52-54-00-12-34-56)", r.PathValue("mac")), http.StatusBadRequest)
		return nil, false
	}
	return mac, true
}

func clientIP(r *http.Request) string {
	if a := clientAddr(r); a.IsValid() {
		return a.String()
	}
	return ""
}

func clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// owns reports whether ip is mac's address on the boot network.
func (s *Server) owns(mac net.HardwareAddr, ip netip.Addr) bool {
	return s.Owns != nil && ip.IsValid() && s.Owns(mac, ip)
}

// script serves the iPXE script of a machine's next boot and commits
// the boot: a once-only boot is used up here, and a token is issued.
// Only the machine's own address gets it.
func (s *Server) script(w http.ResponseWriter, r *http.Request) {
	mac, ok := parseMAC(w, r)
	if !ok {
		return
	}
	key := mac.String()
	ip := clientAddr(r)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !s.owns(mac, ip) {
		s.log().Warn("http: script refused: the client is not at the machine's address", "mac", key, "client", r.RemoteAddr)
		s.refused.Add(1)
		w.WriteHeader(http.StatusForbidden)
		sc := ipxe.NewScript()
		sc.Echo("RedLeaf", "netboot:", "this", "script", "is", "for", strings.ReplaceAll(key, ":", "-"), "and", "only", "its", "own", "address", "gets", "it")
		sc.Command("exit", "1")
		b, _ := sc.Bytes()
		w.Write(b)
		return
	}
	res := s.Profiles.Resolve(mac)
	body, b, err := s.render(key, ip, res)
	if err != nil {
		s.log().Error("http: script not served", "mac", key, "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	committed, err := s.Profiles.Commit(mac)
	if err != nil {
		s.log().Warn("http: saving boot state", "err", err)
	}
	if committed.Target != res.Target || committed.Source != res.Source {
		// Changed in between (a reload, an API call): render what was
		// committed.
		res = committed
		if body, b, err = s.render(key, ip, res); err != nil {
			s.log().Error("http: script not served", "mac", key, "err", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	switch {
	case !res.Served:
		s.event(events.Event{MAC: key, Kind: events.Script, IP: ip.String(), Detail: "not served (deny_unknown)"})
		w.WriteHeader(http.StatusForbidden)
	case b == nil:
		s.event(events.Event{MAC: key, Kind: events.Script, IP: ip.String(), Detail: "local boot (" + res.Source + ")"})
	default:
		s.mu.Lock()
		err := s.boots.add(b)
		s.mu.Unlock()
		if err != nil {
			s.log().Error("http: recording a boot", "mac", key, "err", err)
			http.Error(w, "recording the boot failed: "+err.Error(), http.StatusInternalServerError)
			return
		}
		s.event(events.Event{MAC: key, Kind: events.Script, IP: ip.String(), Boot: b.id,
			Detail: fmt.Sprintf("profile %s (%s, build %s, once %v)", res.Profile.Name, res.Source, res.Profile.Manifest.Name, res.Once)})
	}
	w.Write(body)
}

// render writes the script of a resolution, with a new boot (and its
// token) for a network boot; b is nil for the others.
func (s *Server) render(key string, ip netip.Addr, res profile.Resolution) ([]byte, *boot, error) {
	sc := ipxe.NewScript()
	dashed := strings.ReplaceAll(key, ":", "-")
	switch {
	case !res.Served:
		sc.Echo("RedLeaf", "netboot:", dashed, "is", "not", "a", "known", "machine")
		sc.Command("exit", "1")
		out, err := sc.Bytes()
		return out, nil, err
	case res.Profile == nil || res.Profile.Manifest == nil:
		// exit hands control back to the firmware, which tries the next
		// boot device.
		sc.Echo("RedLeaf", "netboot:", dashed, "boots", "from", "local", "disk")
		sc.Command("exit")
		out, err := sc.Bytes()
		return out, nil, err
	}
	id, err := randomHex(4)
	if err != nil {
		return nil, nil, err
	}
	token, err := randomHex(16)
	if err != nil {
		return nil, nil, err
	}
	now := s.now().UTC()
	b := &boot{id: id, mac: key, ip: ip, profile: res.Target, source: res.Source, time: now, expires: now.Add(s.Limits.TokenTTL), token: tokenSum(token)}
	p, m := res.Profile, res.Profile.Manifest
	q := "?mac=" + dashed + "&boot=" + b.id
	base := s.BaseURL + "/images/" + p.Name + "/"
	kernelName, initrdName := path.Base(m.Kernel), path.Base(m.Initrd)
	args := []string{"--name", kernelName, base + m.Kernel + q, "initrd=" + initrdName}
	args = append(args, strings.Fields(m.Cmdline)...)
	args = append(args, strings.Fields(p.Cmdline)...)
	for _, kv := range [][2]string{{bootparam.MAC, key}, {bootparam.Profile, p.Name}, {bootparam.Boot, b.id}, {bootparam.Token, token}, {bootparam.Report, s.BaseURL + "/api"}} {
		a, err := bootparam.Arg(kv[0], kv[1])
		if err != nil {
			return nil, nil, err
		}
		args = append(args, a)
	}
	sc.Comment(fmt.Sprintf("RedLeaf netboot: %s boots %s (%s, boot %s)", key, p.Name, res.Source, b.id))
	sc.Command("kernel", args...)
	sc.Command("initrd", "--name", initrdName, base+m.Initrd+q)
	sc.Command("boot")
	out, err := sc.Bytes()
	if err != nil {
		return nil, nil, fmt.Errorf("profile %s: %w", p.Name, err)
	}
	return out, b, nil
}

func (s *Server) event(e events.Event) {
	if s.Events != nil {
		s.Events.Add(e)
	}
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// bootFile serves an iPXE binary.
func (s *Server) bootFile(w http.ResponseWriter, r *http.Request) {
	if s.BootFiles == nil {
		http.NotFound(w, r)
		return
	}
	name := r.PathValue("file")
	s.serveFile(w, r, s.BootFiles, name, "boot/"+name, "", "")
}

// image serves an artifact of a profile's build. Only files the
// manifest lists are served.
func (s *Server) image(w http.ResponseWriter, r *http.Request) {
	name, file := r.PathValue("profile"), r.PathValue("file")
	f := s.Profiles.File()
	p := f.Profiles[name]
	if p == nil || p.Manifest == nil {
		http.Error(w, fmt.Sprintf("no profile %q", name), http.StatusNotFound)
		return
	}
	listed := false
	for _, a := range p.Manifest.Artifacts {
		if a.Path == file {
			listed = true
		}
	}
	if !listed {
		http.Error(w, fmt.Sprintf("%s is not an artifact of profile %s", file, name), http.StatusNotFound)
		return
	}
	dir, err := s.dir(p.Manifest.Dir())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	mac := ""
	if hw, err := net.ParseMAC(r.URL.Query().Get("mac")); err == nil {
		mac = hw.String()
	}
	kind := ""
	switch file {
	case p.Manifest.Kernel:
		kind = "kernel"
	case p.Manifest.Initrd:
		kind = "initrd"
	}
	s.serveFile(w, r, dir, file, "images/"+name+"/"+file, mac, kind)
}

// dir returns the served view of an artifacts directory, opened once.
func (s *Server) dir(path string) (*files.Dir, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.dirs[path]; d != nil {
		return d, nil
	}
	d, err := files.OpenDir(path)
	if err != nil {
		return nil, err
	}
	s.dirs[path] = d
	return d, nil
}

// serveFile serves one file with Range and HEAD (http.ServeContent),
// logs it and files an event under the machine (from ?mac=, or from its
// address). kind marks the kernel and initrd, whose complete transfer
// makes the handoff event.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, fsys fs.FS, name, logName, mac, kind string) {
	start := time.Now()
	f, err := fsys.Open(name)
	if err != nil {
		code := http.StatusNotFound
		if errors.Is(err, files.ErrRefused) {
			code = http.StatusForbidden
		} else if !errors.Is(err, fs.ErrNotExist) {
			code = http.StatusInternalServerError
		}
		http.Error(w, http.StatusText(code), code)
		s.log().Warn("http file", "path", logName, "client", r.RemoteAddr, "status", code, "err", err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		http.Error(w, "file not seekable", http.StatusInternalServerError)
		return
	}
	if rg := r.Header.Get("Range"); rg != "" && strings.Count(rg, ",") >= s.Limits.MaxRanges {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", st.Size()))
		http.Error(w, fmt.Sprintf("at most %d ranges per request", s.Limits.MaxRanges), http.StatusRequestedRangeNotSatisfiable)
		s.log().Warn("http file: too many ranges", "path", logName, "client", r.RemoteAddr, "ranges", strings.Count(rg, ",")+1)
		return
	}
	cw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
	http.ServeContent(cw, r, st.Name(), st.ModTime(), rs)
	complete := r.Method == http.MethodGet && cw.status == http.StatusOK && cw.n == st.Size()
	s.log().Info("http file", "path", logName, "client", r.RemoteAddr, "method", r.Method,
		"status", cw.status, "bytes", cw.n, "size", st.Size(), "range", r.Header.Get("Range"),
		"duration", time.Since(start).Round(time.Microsecond).String())
	ip := clientIP(r)
	if mac == "" {
		if a, err := netip.ParseAddr(ip); err == nil && s.Events != nil {
			mac, _ = s.Events.Who(a)
		}
	}
	if mac == "" || s.Events == nil {
		return
	}
	boot := r.URL.Query().Get("boot")
	detail := fmt.Sprintf("%s %s: %d, %d of %d bytes", r.Method, logName, cw.status, cw.n, st.Size())
	s.event(events.Event{MAC: mac, Kind: events.HTTP, IP: ip, Boot: boot, Detail: detail})
	if kind == "initrd" && complete {
		// The script loads the kernel first, then the initrd: with the
		// initrd in full, iPXE boots.
		s.event(events.Event{MAC: mac, Kind: events.Handoff, IP: ip, Boot: boot, Detail: "kernel and initrd fetched: the image starts"})
	}
}

type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (c *countingWriter) WriteHeader(code int) {
	c.status = code
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

// machineInfo is the API's view of a machine.
type machineInfo struct {
	MAC      string             `json:"mac"`
	IP       string             `json:"ip,omitempty"`
	LastSeen time.Time          `json:"last_seen,omitzero"`
	Next     profile.Resolution `json:"next_boot"`
	Override *profile.NextBoot  `json:"next_boot_set,omitempty"`
	Boots    []Boot             `json:"boots,omitempty"`
	Events   []events.Event     `json:"events,omitempty"`
}

func (s *Server) info(mac net.HardwareAddr, seen map[string]events.Machine, full bool) machineInfo {
	key := mac.String()
	mi := machineInfo{MAC: key, Next: s.Profiles.Resolve(mac)}
	if nb, ok := s.Profiles.Next(mac); ok {
		mi.Override = &nb
	}
	if m, ok := seen[key]; ok {
		mi.IP, mi.LastSeen = m.IP, m.LastSeen
	}
	if full {
		if s.Events != nil {
			mi.Events = s.Events.For(key)
		}
		s.mu.Lock()
		for _, b := range s.boots.byMAC[key] {
			mi.Boots = append(mi.Boots, b.view())
		}
		s.mu.Unlock()
	}
	return mi
}

// seen returns the event log's machines by MAC, computed once per
// request.
func (s *Server) seen() map[string]events.Machine {
	out := map[string]events.Machine{}
	if s.Events != nil {
		for _, m := range s.Events.Machines() {
			out[m.MAC] = m
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (s *Server) machines(w http.ResponseWriter, r *http.Request) {
	seen := s.seen()
	macs := make(map[string]bool, len(seen))
	for m := range seen {
		macs[m] = true
	}
	for _, m := range s.Profiles.Machines() {
		macs[m] = true
	}
	keys := make([]string, 0, len(macs))
	for m := range macs {
		keys = append(keys, m)
	}
	sort.Strings(keys)
	out := make([]machineInfo, 0, len(keys))
	for _, k := range keys {
		hw, err := net.ParseMAC(k)
		if err != nil {
			continue
		}
		out = append(out, s.info(hw, seen, false))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) machine(w http.ResponseWriter, r *http.Request) {
	if mac, ok := parseMAC(w, r); ok {
		writeJSON(w, http.StatusOK, s.info(mac, s.seen(), true))
	}
}

func (s *Server) machineEvents(w http.ResponseWriter, r *http.Request) {
	mac, ok := parseMAC(w, r)
	if !ok {
		return
	}
	evs := []events.Event{}
	if s.Events != nil {
		evs = append(evs, s.Events.For(mac.String())...)
	}
	writeJSON(w, http.StatusOK, evs)
}

func (s *Server) getNext(w http.ResponseWriter, r *http.Request) {
	if mac, ok := parseMAC(w, r); ok {
		writeJSON(w, http.StatusOK, s.Profiles.Resolve(mac))
	}
}

func (s *Server) putNext(w http.ResponseWriter, r *http.Request) {
	if !s.operator(w, r) {
		return
	}
	mac, ok := parseMAC(w, r)
	if !ok {
		return
	}
	var nb profile.NextBoot
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&nb); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be {\"profile\": NAME or \"local\", \"once\": BOOL}: " + err.Error()})
		return
	}
	nb.Set = time.Time{}
	if err := s.Profiles.SetNext(mac, nb); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	s.log().Info("http: next boot set", "mac", mac.String(), "profile", nb.Target, "once", nb.Once, "client", r.RemoteAddr)
	writeJSON(w, http.StatusOK, s.Profiles.Resolve(mac))
}

func (s *Server) deleteNext(w http.ResponseWriter, r *http.Request) {
	if !s.operator(w, r) {
		return
	}
	mac, ok := parseMAC(w, r)
	if !ok {
		return
	}
	if err := s.Profiles.ClearNext(mac); err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	s.log().Info("http: next boot cleared", "mac", mac.String(), "client", r.RemoteAddr)
	writeJSON(w, http.StatusOK, s.Profiles.Resolve(mac))
}

// results returns a boot's results with their bodies, to the operator.
func (s *Server) results(w http.ResponseWriter, r *http.Request) {
	if !s.operator(w, r) {
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	var out []Result
	var err error
	b := s.boots.byID[id]
	if b != nil {
		out, err = s.boots.bodies(b)
	}
	s.mu.Unlock()
	switch {
	case b == nil:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no boot %q (boots are listed by GET /api/machines/{mac})", id)})
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusOK, out)
	}
}

// Results returns a boot's results with their bodies (the Go API of
// GET /api/boots/{id}/results).
func (s *Server) Results(bootID string) ([]Result, error) {
	s.once.Do(s.routes)
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.boots.byID[bootID]
	if b == nil {
		return nil, fmt.Errorf("no boot %q", bootID)
	}
	return s.boots.bodies(b)
}

// Boots returns a machine's remembered boots, oldest first.
func (s *Server) Boots(mac net.HardwareAddr) []Boot {
	s.once.Do(s.routes)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Boot
	for _, b := range s.boots.byMAC[mac.String()] {
		out = append(out, b.view())
	}
	return out
}

// report handles /api/booted and /api/results, authenticated by the
// boot's token from the boot's address.
func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = strings.TrimSpace(auth)
	}
	ip := clientAddr(r)
	now := s.now().UTC()
	s.mu.Lock()
	b := s.boots.byToken[tokenSum(token)]
	var mac net.HardwareAddr
	var bootIP netip.Addr
	var expires time.Time
	if b != nil {
		mac, _ = net.ParseMAC(b.mac)
		bootIP, expires = b.ip, b.expires
	}
	s.mu.Unlock()
	fail := func(code int, msg string) {
		if code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rlbuild netboot"`)
		}
		writeJSON(w, code, map[string]string{"error": msg})
		s.log().Warn("http: report refused", "path", r.URL.Path, "client", r.RemoteAddr, "status", code, "reason", msg)
	}
	switch {
	case token == "" || b == nil:
		fail(http.StatusUnauthorized, "a valid boot token is required (rl.token= on the kernel command line), as Authorization: Bearer TOKEN or ?token=TOKEN")
		return
	case !now.Before(expires):
		fail(http.StatusUnauthorized, fmt.Sprintf("the token of boot %s expired at %s: boot the machine again", b.id, expires.Format(time.RFC3339)))
		return
	case ip != bootIP && !s.owns(mac, ip):
		fail(http.StatusForbidden, fmt.Sprintf("the token of boot %s is bound to %s (%s), not to %s", b.id, bootIP, b.mac, ip))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, s.Limits.MaxPost+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if int64(len(body)) > s.Limits.MaxPost {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("a post is limited to %d bytes", s.Limits.MaxPost)})
		return
	}
	raw := json.RawMessage(body)
	if !json.Valid(body) {
		// Not JSON (a shell's echo): keep it as a string.
		raw, _ = json.Marshal(string(body))
	} else if len(body) > 0 {
		var buf bytes.Buffer
		json.Compact(&buf, body) // one line in the journal
		raw = json.RawMessage(buf.Bytes())
	}
	kind := events.Results
	s.mu.Lock()
	if strings.HasSuffix(r.URL.Path, "/booted") {
		kind = events.Booted
		err = s.boots.markBooted(b, now)
	} else {
		err = s.boots.post(b, now, now, raw)
		if err == nil && b.booted.IsZero() {
			err = s.boots.markBooted(b, now)
		}
	}
	id := b.id
	s.mu.Unlock()
	switch {
	case errors.Is(err, errBootLimit):
		fail(http.StatusTooManyRequests, err.Error())
		return
	case errors.Is(err, errFull):
		fail(http.StatusInsufficientStorage, err.Error())
		return
	case err != nil:
		fail(http.StatusInternalServerError, "recording failed: "+err.Error())
		return
	}
	detail := fmt.Sprintf("%d bytes", len(raw))
	if kind == events.Booted && len(raw) <= 512 {
		detail = string(raw) // versions, boot ids, address: small and useful
	}
	s.event(events.Event{MAC: b.mac, Kind: kind, IP: ip.String(), Boot: id, Detail: detail})
	s.log().Info("http: "+kind, "mac", b.mac, "boot", id, "bytes", len(body), "client", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]string{"mac": b.mac, "boot": id, "recorded": kind})
}

// metrics writes counters in the Prometheus text format.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintln(w, "# HELP netboot_events_total Boot events by kind.")
	fmt.Fprintln(w, "# TYPE netboot_events_total counter")
	if s.Events != nil {
		counts := s.Events.Counts()
		kinds := make([]string, 0, len(counts))
		for k := range counts {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			fmt.Fprintf(w, "netboot_events_total{kind=%q} %d\n", k, counts[k])
		}
		fmt.Fprintln(w, "# HELP netboot_machines Machines with events.")
		fmt.Fprintln(w, "# TYPE netboot_machines gauge")
		fmt.Fprintf(w, "netboot_machines %d\n", len(s.Events.Machines()))
	}
	s.mu.Lock()
	n, kept := len(s.boots.byID), s.boots.resultBytes
	s.mu.Unlock()
	fmt.Fprintln(w, "# HELP netboot_boots Boots remembered.")
	fmt.Fprintln(w, "# TYPE netboot_boots gauge")
	fmt.Fprintf(w, "netboot_boots %d\n", n)
	fmt.Fprintln(w, "# HELP netboot_result_bytes Bytes of results kept.")
	fmt.Fprintln(w, "# TYPE netboot_result_bytes gauge")
	fmt.Fprintf(w, "netboot_result_bytes %d\n", kept)
	fmt.Fprintln(w, "# HELP netboot_scripts_refused_total Scripts refused to an address not the machine's.")
	fmt.Fprintln(w, "# TYPE netboot_scripts_refused_total counter")
	fmt.Fprintf(w, "netboot_scripts_refused_total %d\n", s.refused.Load())
}

// Close releases the artifacts directories and the boots file.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for path, d := range s.dirs {
		d.Close()
		delete(s.dirs, path)
	}
	if s.boots != nil {
		return s.boots.close()
	}
	return nil
}
