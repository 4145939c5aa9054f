package httpboot

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/netboot/events"
)

var tokenRE = regexp.MustCompile(`rl\.token=([0-9a-f]+)`)

// scriptToken fetches mac's script and returns its token.
func scriptToken(t testing.TB, s *Server, mac string) string {
	t.Helper()
	hw, _ := net.ParseMAC(mac)
	resp, err := http.Get(s.ScriptURL(hw))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := make([]byte, 4096)
	n, _ := resp.Body.Read(b)
	m := tokenRE.FindSubmatch(b[:n])
	if m == nil {
		t.Fatalf("no token in %d %q", resp.StatusCode, b[:n])
	}
	return string(m[1])
}

// from returns a client whose connections come from a loopback address.
func from(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}}
}

func post(t testing.TB, c *http.Client, url, token, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestScriptOnlyToOwnAddress: a script fetch from an address that is not
// the machine's changes nothing: no once-only boot used up, no token.
func TestScriptOnlyToOwnAddress(t *testing.T) {
	_, s := newServer(t, lab)
	s.Owns = func(net.HardwareAddr, netip.Addr) bool { return false }
	once, _ := net.ParseMAC("52:54:00:00:00:02")
	for range 20 {
		resp, script := get(t, s.ScriptURL(once))
		if resp.StatusCode != 403 || strings.Contains(script, "rl.token") || strings.Contains(script, "kernel") {
			t.Fatalf("%d %q", resp.StatusCode, script)
		}
	}
	if r := s.Profiles.Resolve(once); r.Source != "machine" || !r.Once || r.Target != "other" {
		t.Errorf("once-only boot used up by a stranger: %+v", r)
	}
	if len(s.Boots(once)) != 0 {
		t.Error("a boot was recorded")
	}
}

// TestTokenBound: a token is accepted from its boot's address only, and
// not after it expires.
func TestTokenBound(t *testing.T) {
	ts, s := newServer(t, lab)
	now := time.Now()
	s.Now = func() time.Time { return now }
	token := scriptToken(t, s, "52:54:00:00:00:01")
	if code := post(t, from("127.0.0.2"), ts.URL+"/api/booted", token, ""); code != 403 {
		t.Errorf("token from another address: %d", code)
	}
	if code := post(t, from("127.0.0.1"), ts.URL+"/api/booted", token, ""); code != 200 {
		t.Errorf("token from the boot's address: %d", code)
	}
	now = now.Add(s.Limits.TokenTTL + time.Second)
	if code := post(t, from("127.0.0.1"), ts.URL+"/api/results", token, "{}"); code != 401 {
		t.Errorf("expired token: %d", code)
	}
}

// TestTokensNotEvicted: other machines' boots, however many, do not
// push out a listed machine's token; unknown machines are bounded.
func TestTokensNotEvicted(t *testing.T) {
	ts, s := newServer(t, lab)
	s.Known = func(mac string) bool { return mac == "52:54:00:00:00:01" }
	s.Limits.MaxMachines = 10
	token := scriptToken(t, s, "52:54:00:00:00:01")
	for i := range 300 {
		scriptToken(t, s, fmt.Sprintf("52:54:00:01:%02x:%02x", i/256, i%256))
	}
	if code := post(t, http.DefaultClient, ts.URL+"/api/booted", token, ""); code != 200 {
		t.Errorf("listed machine's token after 300 other boots: %d", code)
	}
	s.mu.Lock()
	machines, boots := len(s.boots.byMAC), len(s.boots.byID)
	s.mu.Unlock()
	if machines != 11 || boots != 11 {
		t.Errorf("%d machines, %d boots kept; want 11 and 11", machines, boots)
	}
}

// TestResultsBounded: posts are bounded per boot and in total, stored
// append-only (a post adds its record, nothing is rewritten), and come
// back after a restart; a damaged last record is skipped.
func TestResultsBounded(t *testing.T) {
	ts, s := newServer(t, lab)
	s.Limits.PostsPerBoot, s.Limits.TotalBytes = 5, 5000
	token := scriptToken(t, s, "52:54:00:00:00:01")
	path := filepath.Join(s.StateDir, "http-boots.jsonl")
	body := `{"r":"` + strings.Repeat("x", 900) + `"}`
	var last int64
	for i := range 5 {
		if code := post(t, http.DefaultClient, ts.URL+"/api/results", token, body); code != 200 {
			t.Fatalf("post %d: %d", i, code)
		}
		st, _ := os.Stat(path)
		if i > 0 && st.Size()-last > int64(len(body))+200 {
			t.Errorf("post %d grew the file by %d bytes: rewritten, not appended", i, st.Size()-last)
		}
		last = st.Size()
	}
	if code := post(t, http.DefaultClient, ts.URL+"/api/results", token, "{}"); code != 429 {
		t.Errorf("sixth post of a boot: %d", code)
	}
	// The total: another machine's boot cannot add beyond it while no
	// boot has expired.
	other := scriptToken(t, s, "52:54:00:00:00:09")
	if code := post(t, http.DefaultClient, ts.URL+"/api/results", other, body); code != 507 {
		t.Errorf("post beyond the total: %d", code)
	}
	// Once the first boot's token expired, its results make room.
	s.Now = func() time.Time { return time.Now().Add(s.Limits.TokenTTL + time.Hour) }
	s.mu.Lock()
	for _, b := range s.boots.byID {
		if b.mac == "52:54:00:00:00:09" {
			b.expires = time.Now().Add(48 * time.Hour) // still valid
		}
	}
	s.mu.Unlock()
	if code := post(t, http.DefaultClient, ts.URL+"/api/results", other, body); code != 200 {
		t.Errorf("post after the old boot expired: %d", code)
	}
	// Restart: what was kept is read back; a damaged last line skipped.
	s.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"op":"result","id":"`)
	f.Close()
	s2 := &Server{Log: quiet(), Profiles: s.Profiles, Events: &events.Log{}, StateDir: s.StateDir, Owns: loopbackOwns}
	if err := s2.Open(); err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	hw, _ := net.ParseMAC("52:54:00:00:00:09")
	bs := s2.Boots(hw)
	if len(bs) != 1 || len(bs[0].Results) != 1 {
		t.Fatalf("after restart: %+v", bs)
	}
	rs, err := s2.Results(bs[0].ID)
	if err != nil || len(rs) != 1 || string(rs[0].Body) != body {
		t.Errorf("results after restart: %v %v", rs, err)
	}
}

// TestRangeCap: a Range header with more ranges than MaxRanges is
// refused at once.
func TestRangeCap(t *testing.T) {
	ts, s := newServer(t, lab)
	url := ts.URL + "/images/qemu/vmlinuz"
	many := "bytes=" + strings.TrimSuffix(strings.Repeat("0-0,", s.Limits.withDefaults().MaxRanges+1), ",")
	if resp, _ := get(t, url, "Range", many); resp.StatusCode != 416 {
		t.Errorf("%d ranges: %d", s.Limits.withDefaults().MaxRanges+1, resp.StatusCode)
	}
	if resp, _ := get(t, url, "Range", "bytes=0-0,2-3"); resp.StatusCode != 206 {
		t.Errorf("two ranges: %d", resp.StatusCode)
	}
}
