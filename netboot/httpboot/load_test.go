package httpboot

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/netboot/events"
)

// The load tests push each bound with the load that broke it before
// (issue 14) and print what they measured; BENCHMARKS.md has the
// numbers. They run on loopback and are skipped by -short.

// TestLoadMachinesList: 30,000 random MACs seen on the network. The
// machine list stays bounded (4096 unknown machines) and is computed
// once per request: the time of GET /api/machines after 30,000 MACs is
// that after 4,096, not quadratic in what was seen.
func TestLoadMachinesList(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	ts, s := newServer(t, lab)
	s.Events.Known = s.Profiles.Known
	timeList := func() (time.Duration, int) {
		start := time.Now()
		resp, err := http.Get(ts.URL + "/api/machines")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return time.Since(start), strings.Count(string(b), `"mac"`)
	}
	add := func(from, to int) {
		for i := from; i < to; i++ {
			mac := fmt.Sprintf("02:00:%02x:%02x:%02x:%02x", i>>24&255, i>>16&255, i>>8&255, i&255)
			s.Events.Add(eventFor(mac, i))
		}
	}
	add(0, 4096)
	d1, n1 := timeList()
	add(4096, 30000)
	d2, n2 := timeList()
	t.Logf("GET /api/machines: %d MACs seen -> %d listed in %v; %d MACs seen -> %d listed in %v (ratio %.2f)", 4096, n1, d1.Round(time.Millisecond), 30000, n2, d2.Round(time.Millisecond), float64(d2)/float64(d1))
	if n2 > 4096+3 {
		t.Errorf("%d machines listed after 30,000 MACs", n2)
	}
}

// TestLoadResults: 40 posts of 1 MiB to one boot (what made a 131 MB
// file and 1.4 GB RSS), then 16 boots posting until the total is
// reached. Posts beyond the bounds are refused; the file stays within
// the total; a post's time does not grow with what is stored.
func TestLoadResults(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	ts, s := newServer(t, lab)
	s.Limits.TotalBytes = 32 << 20
	s.Known = func(string) bool { return false }
	body := `"` + strings.Repeat("r", 1<<20-16) + `"`
	path := filepath.Join(s.StateDir, "http-boots.jsonl")
	token := scriptToken(t, s, "52:54:00:00:00:01")
	codes := map[int]int{}
	var first, lastPost time.Duration
	for i := range 40 {
		start := time.Now()
		codes[post(t, http.DefaultClient, ts.URL+"/api/results", token, body)]++
		d := time.Since(start)
		if i == 0 {
			first = d
		}
		lastPost = d
	}
	st, _ := os.Stat(path)
	t.Logf("one boot, 40 posts of 1 MiB: %v; file %.1f MiB; first post %v, last %v", codes, float64(st.Size())/(1<<20), first.Round(time.Millisecond), lastPost.Round(time.Millisecond))
	if codes[200] != 4 || st.Size() > 5<<20 {
		t.Errorf("per-boot bound: %v, %d bytes", codes, st.Size())
	}
	codes = map[int]int{}
	var early, late time.Duration
	for m := range 16 {
		tok := scriptToken(t, s, fmt.Sprintf("52:54:00:00:01:%02x", m))
		for range 4 {
			start := time.Now()
			codes[post(t, http.DefaultClient, ts.URL+"/api/results", tok, body)]++
			if m == 1 {
				early += time.Since(start)
			}
			if m == 6 {
				late += time.Since(start)
			}
		}
	}
	st, _ = os.Stat(path)
	t.Logf("16 more boots, 4 posts of 1 MiB each: %v; file %.1f MiB (total bound 32 MiB); post time at 8 MiB stored %v, at 28 MiB %v", codes, float64(st.Size())/(1<<20), (early / 4).Round(time.Millisecond), (late / 4).Round(time.Millisecond))
	if st.Size() > 2*(32<<20)+(2<<20) || codes[507] == 0 {
		t.Errorf("total bound: %v, %d bytes", codes, st.Size())
	}
}

// TestLoadRanges: a 70,000-range header is refused in one step.
func TestLoadRanges(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	ts, _ := newServer(t, lab)
	hdr := "bytes=" + strings.TrimSuffix(strings.Repeat("0-0,", 70000), ",")
	c, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	fmt.Fprintf(c, "GET /images/qemu/vmlinuz HTTP/1.1\r\nHost: x\r\nRange: %s\r\nConnection: close\r\n\r\n", hdr)
	b, _ := io.ReadAll(c)
	line, _, _ := strings.Cut(string(b), "\r\n")
	t.Logf("70,000-range header (%d KiB): %q in %v", len(hdr)>>10, line, time.Since(start).Round(time.Microsecond))
	if !strings.Contains(line, "416") {
		t.Errorf("answer %q", line)
	}
}

func eventFor(mac string, i int) events.Event {
	return events.Event{MAC: mac, Kind: events.DHCP, IP: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), Detail: "DISCOVER -> OFFER"}
}
