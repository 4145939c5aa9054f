// Package httpboot is the HTTP side of netboot: what iPXE and UEFI HTTP
// boot fetch, and the API the lab runner and booted images use.
//
//	GET  /ipxe/{mac}                      iPXE script of the machine's next boot (starts a boot)
//	GET  /boot/{file}                     iPXE binaries, for UEFI HTTP boot
//	GET  /images/{profile}/{file}         kernel, initrd, disk image (Range, HEAD)
//	GET  /api/machines                    machines seen, with their next boot
//	GET  /api/machines/{mac}              one machine: next boot, boots, events, results
//	GET  /api/machines/{mac}/events       its boot-event log
//	GET  /api/machines/{mac}/next-boot    what it boots next and why
//	PUT  /api/machines/{mac}/next-boot    {"profile": "NAME" or "local", "once": true}
//	DELETE /api/machines/{mac}/next-boot  back to the configuration file
//	POST /api/booted                      the image is up       (per-boot token)
//	POST /api/results                     the image's results   (per-boot token)
//	GET  /metrics                         Prometheus text format
//
// Each boot gets a random token that the kernel command line carries
// (rl.token=, with rl.report= naming this server's /api); the image
// authenticates its reports with it, as "Authorization: Bearer TOKEN" or
// ?token=TOKEN, so a machine can only report about its own boot.
package httpboot

import (
	"crypto/rand"
	"crypto/subtle"
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
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rlgo/redleaf/netboot/events"
	"github.com/rlgo/redleaf/netboot/files"
	"github.com/rlgo/redleaf/netboot/profile"
)

// Server serves HTTP. Set Profiles, Events and BaseURL.
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
	// StateDir keeps the boot tokens across restarts ("" keeps them in
	// memory).
	StateDir string
	// Log gets one line per request that is not an API read.
	Log *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time

	once  sync.Once
	mux   *http.ServeMux
	mu    sync.Mutex
	boots map[string]*Boot // by token
	byMAC map[string][]*Boot
	dirs  map[string]*files.Dir // artifacts directories by path
}

// Boot is one boot of a machine: what the script told it to load.
type Boot struct {
	ID      string    `json:"id"`
	MAC     string    `json:"mac"`
	Profile string    `json:"profile"`
	Source  string    `json:"source"`
	Time    time.Time `json:"time"`
	Token   string    `json:"token,omitempty"`
	Booted  time.Time `json:"booted,omitzero"`
	// Results are what the image posted, newest last.
	Results []Result `json:"results,omitempty"`
}

// Result is one post to /api/results.
type Result struct {
	Time time.Time       `json:"time"`
	Body json.RawMessage `json:"body"`
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

func (s *Server) routes() {
	s.boots = map[string]*Boot{}
	s.byMAC = map[string][]*Boot{}
	s.dirs = map[string]*files.Dir{}
	s.loadBoots()
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
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	return host
}

// script serves the iPXE script of a machine's next boot and commits
// the boot: a once-only boot is used up here, and a token is issued.
func (s *Server) script(w http.ResponseWriter, r *http.Request) {
	mac, ok := parseMAC(w, r)
	if !ok {
		return
	}
	res, err := s.Profiles.Commit(mac)
	if err != nil {
		s.log().Warn("http: saving boot state", "err", err)
	}
	key := mac.String()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case !res.Served:
		s.event(events.Event{MAC: key, Kind: events.Script, IP: clientIP(r), Detail: "not served (deny_unknown)"})
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "#!ipxe\necho RedLeaf netboot: %s is not a known machine\nexit 1\n", key)
		return
	case res.Profile == nil || res.Profile.Manifest == nil:
		s.event(events.Event{MAC: key, Kind: events.Script, IP: clientIP(r), Detail: "local boot (" + res.Source + ")"})
		// exit hands control back to the firmware, which tries the next
		// boot device.
		fmt.Fprintf(w, "#!ipxe\necho RedLeaf netboot: %s boots from local disk\nexit\n", key)
		return
	}
	b, err := s.newBoot(key, res)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	p, m := res.Profile, res.Profile.Manifest
	q := "?mac=" + strings.ReplaceAll(key, ":", "-") + "&boot=" + b.ID
	base := s.BaseURL + "/images/" + p.Name + "/"
	kernelName, initrdName := filepath.Base(m.Kernel), filepath.Base(m.Initrd)
	cmdline := strings.Join(strings.Fields(strings.Join([]string{
		"initrd=" + initrdName, m.Cmdline, p.Cmdline,
		"rl.mac=" + key, "rl.profile=" + p.Name, "rl.boot=" + b.ID,
		"rl.token=" + b.Token, "rl.report=" + s.BaseURL + "/api",
	}, " ")), " ")
	fmt.Fprintf(w, "#!ipxe\n# RedLeaf netboot: %s boots %s (%s, boot %s)\n", key, p.Name, res.Source, b.ID)
	fmt.Fprintf(w, "kernel --name %s %s%s%s %s\n", kernelName, base, m.Kernel, q, cmdline)
	fmt.Fprintf(w, "initrd --name %s %s%s%s\n", initrdName, base, m.Initrd, q)
	fmt.Fprintf(w, "boot\n")
	s.event(events.Event{MAC: key, Kind: events.Script, IP: clientIP(r), Boot: b.ID,
		Detail: fmt.Sprintf("profile %s (%s, build %s, once %v)", p.Name, res.Source, m.Name, res.Once)})
}

func (s *Server) event(e events.Event) {
	if s.Events != nil {
		s.Events.Add(e)
	}
}

func (s *Server) newBoot(mac string, res profile.Resolution) (*Boot, error) {
	id, err := randomHex(4)
	if err != nil {
		return nil, err
	}
	token, err := randomHex(16)
	if err != nil {
		return nil, err
	}
	b := &Boot{ID: id, MAC: mac, Profile: res.Target, Source: res.Source, Time: s.now().UTC(), Token: token}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.boots[token] = b
	list := append(s.byMAC[mac], b)
	const keep = 8
	if len(list) > keep {
		for _, old := range list[:len(list)-keep] {
			delete(s.boots, old.Token)
		}
		list = append(list[:0:0], list[len(list)-keep:]...)
	}
	s.byMAC[mac] = list
	s.saveBoots()
	return b, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// bootsFile keeps the boots (and their tokens) across restarts.
func (s *Server) bootsFile() string {
	if s.StateDir == "" {
		return ""
	}
	return filepath.Join(s.StateDir, "http-boots.json")
}

// saveBoots writes the boots; s.mu is held.
func (s *Server) saveBoots() {
	path := s.bootsFile()
	if path == "" {
		return
	}
	b, err := json.Marshal(s.byMAC)
	if err == nil {
		tmp := path + ".tmp"
		if err = os.WriteFile(tmp, b, 0o600); err == nil {
			err = os.Rename(tmp, path)
		}
	}
	if err != nil {
		s.log().Warn("http: saving boots", "err", err)
	}
}

func (s *Server) loadBoots() {
	path := s.bootsFile()
	if path == "" {
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	if err := json.Unmarshal(b, &s.byMAC); err != nil {
		s.log().Warn("http: ignoring unreadable boots file", "file", path, "err", err)
		s.byMAC = map[string][]*Boot{}
		return
	}
	for _, list := range s.byMAC {
		for _, bt := range list {
			s.boots[bt.Token] = bt
		}
	}
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
	Boots    []*Boot            `json:"boots,omitempty"`
	Events   []events.Event     `json:"events,omitempty"`
}

func (s *Server) info(mac net.HardwareAddr, full bool) machineInfo {
	key := mac.String()
	mi := machineInfo{MAC: key, Next: s.Profiles.Resolve(mac)}
	if nb, ok := s.Profiles.Next(mac); ok {
		mi.Override = &nb
	}
	if s.Events != nil {
		for _, m := range s.Events.Machines() {
			if m.MAC == key {
				mi.IP, mi.LastSeen = m.IP, m.LastSeen
			}
		}
		if full {
			mi.Events = s.Events.For(key)
		}
	}
	if full {
		s.mu.Lock()
		for _, b := range s.byMAC[key] {
			cp := *b
			cp.Token = "" // a secret of the boot
			mi.Boots = append(mi.Boots, &cp)
		}
		s.mu.Unlock()
	}
	return mi
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (s *Server) machines(w http.ResponseWriter, r *http.Request) {
	macs := map[string]bool{}
	for _, m := range s.Profiles.Machines() {
		macs[m] = true
	}
	if s.Events != nil {
		for _, m := range s.Events.Machines() {
			macs[m.MAC] = true
		}
	}
	var keys []string
	for m := range macs {
		keys = append(keys, m)
	}
	sort.Strings(keys)
	out := []machineInfo{}
	for _, k := range keys {
		hw, err := net.ParseMAC(k)
		if err != nil {
			continue
		}
		out = append(out, s.info(hw, false))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) machine(w http.ResponseWriter, r *http.Request) {
	if mac, ok := parseMAC(w, r); ok {
		writeJSON(w, http.StatusOK, s.info(mac, true))
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

// report handles /api/booted and /api/results, authenticated by the
// boot's token.
func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = strings.TrimSpace(auth)
	}
	s.mu.Lock()
	var b *Boot
	for t, candidate := range s.boots {
		if subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 {
			b = candidate
		}
	}
	s.mu.Unlock()
	if token == "" || b == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rlbuild netboot"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "a valid boot token is required (rl.token= on the kernel command line), as Authorization: Bearer TOKEN or ?token=TOKEN"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if len(body) > 1<<20 {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "results are limited to 1 MiB"})
		return
	}
	raw := json.RawMessage(body)
	if !json.Valid(body) {
		// Not JSON (a shell's echo): keep it as a string.
		raw, _ = json.Marshal(string(body))
	}
	now := s.now().UTC()
	kind := events.Results
	s.mu.Lock()
	if strings.HasSuffix(r.URL.Path, "/booted") {
		kind = events.Booted
		b.Booted = now
	} else {
		b.Results = append(b.Results, Result{Time: now, Body: raw})
		if b.Booted.IsZero() {
			b.Booted = now
		}
	}
	s.saveBoots()
	mac, id := b.MAC, b.ID
	s.mu.Unlock()
	detail := string(raw)
	if len(detail) > 200 {
		detail = detail[:200] + "..."
	}
	s.event(events.Event{MAC: mac, Kind: kind, IP: clientIP(r), Boot: id, Detail: detail})
	s.log().Info("http: "+kind, "mac", mac, "boot", id, "bytes", len(body), "client", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]string{"mac": mac, "boot": id, "recorded": kind})
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
	n := len(s.boots)
	s.mu.Unlock()
	fmt.Fprintln(w, "# HELP netboot_boots Boots remembered (last 8 per machine).")
	fmt.Fprintln(w, "# TYPE netboot_boots gauge")
	fmt.Fprintf(w, "netboot_boots %d\n", n)
}

// Close releases the artifacts directories.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for path, d := range s.dirs {
		d.Close()
		delete(s.dirs, path)
	}
	return nil
}
