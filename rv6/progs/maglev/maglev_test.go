package maglev_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	lb "github.com/rlgo/redleaf/apps/maglev"
	"github.com/rlgo/redleaf/drivers/ixgbe"
	"github.com/rlgo/redleaf/drivers/ixgbe/model"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/hw"
	"github.com/rlgo/redleaf/kernel/shadow"
	_ "github.com/rlgo/redleaf/rv6/progs/maglev"
	"github.com/rlgo/redleaf/rv6/rv6test"
)

// rig is Rv6 with two ixgbe ports over the 82599 model, each driver a
// domain behind its shadow, which Rv6 may grant as nic:ixgbe0 and
// nic:ixgbe1; the test sees both models' wires.
type rig struct {
	s *rv6test.System
	m [2]*model.Model
}

// portMAC is port i's own address.
func portMAC(i int) [6]byte { return [6]byte{0x02, 0x1b, 0x21, 0x0a, 0x0b, byte(i)} }

func newRig(t testing.TB) *rig {
	t.Helper()
	mgr := domain.NewManager()
	t.Cleanup(mgr.Close)
	r := &rig{}
	grants := map[string]domain.Provider{}
	for i := range r.m {
		m := model.New(model.Config{Queues: 1, RAM: 4 << 20, MAC: portMAC(i)})
		r.m[i] = m
		d, err := mgr.Create(ixgbe.Kind, domain.GrantDevice(ixgbe.GrantPCI, hw.PCIDevice(m)), domain.GrantDevice(ixgbe.GrantConfig, ixgbe.Config{RingSize: 512}))
		if err != nil {
			t.Fatal(err)
		}
		g, err := shadow.New(mgr, d, shadow.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		grants[fmt.Sprintf("nic:ixgbe%d", i)] = g
	}
	r.s = rv6test.Boot(t, rv6test.Options{DiskSize: 1 << 20, Grants: grants, Manager: mgr})
	r.s.Caps = []string{"nic:ixgbe0", "nic:ixgbe1"}
	return r
}

// clientFrame is a 60-byte TCP SYN from client c (172.16.x.y, a port
// derived from c) to the service 10.0.0.100:80, sent to port 0.
func clientFrame(c uint32) []byte {
	f := make([]byte, 60)
	dst := portMAC(0)
	copy(f, dst[:])
	copy(f[6:], []byte{0x02, 0xc1, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(ip[2:], 40)
	ip[12], ip[13], ip[14], ip[15] = 172, 16, byte(c>>8), byte(c)
	copy(ip[16:], []byte{10, 0, 0, 100})
	binary.BigEndian.PutUint16(ip[20:], uint16(1024+c*7))
	binary.BigEndian.PutUint16(ip[22:], 80)
	ip[33] = 0x02
	return f
}

// waitFor waits until the process's output matches re, or fails.
func waitFor(t *testing.T, p *rv6test.Proc, re string) {
	t.Helper()
	x := regexp.MustCompile(re)
	deadline := time.Now().Add(60 * time.Second)
	for !x.MatchString(p.Output()) {
		select {
		case <-p.Done():
			t.Fatalf("maglev ended before printing %s:\n%s", re, p.Output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in 60 s:\n%s", re, p.Output())
		}
		time.Sleep(time.Millisecond)
	}
}

// send puts one frame of each of flows clients (and one ARP broadcast,
// which maglev drops) on port 0's wire, waits until port 1's wire has
// taken flows frames, and returns the backend MAC each client's frame went
// to, checking that nothing else in the frame changed.
func (r *rig) send(t *testing.T, p *rv6test.Proc, flows int) map[uint32][6]byte {
	t.Helper()
	sent0 := r.m[1].Counters().Sent
	for c := range uint32(flows) {
		if !r.m[0].Inject(0, clientFrame(c)) {
			t.Fatalf("port 0's model missed client %d's frame", c)
		}
	}
	arp := make([]byte, 60)
	copy(arp, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	binary.BigEndian.PutUint16(arp[12:], 0x0806)
	if !r.m[0].Inject(0, arp) {
		t.Fatal("port 0's model missed the ARP frame")
	}
	deadline := time.Now().Add(60 * time.Second)
	for r.m[1].Counters().Sent-sent0 < uint64(flows) {
		if time.Now().After(deadline) {
			t.Fatalf("port 1's wire took %d of %d frames in 60 s:\n%s", r.m[1].Counters().Sent-sent0, flows, p.Output())
		}
		time.Sleep(time.Millisecond)
	}
	got := map[uint32][6]byte{}
	src := portMAC(1)
	for _, f := range r.m[1].Captured(0) {
		fl, ok := lb.ParseFlow(f)
		if !ok {
			t.Fatalf("a frame that is not IPv4 came out: % x", f)
		}
		c := uint32(fl.Src[2])<<8 | uint32(fl.Src[3])
		want := clientFrame(c)
		copy(want[0:6], f[0:6])
		copy(want[6:12], src[:])
		if !bytes.Equal(f, want) {
			t.Fatalf("client %d's frame came out as\n% x, want\n% x", c, f, want)
		}
		if _, dup := got[c]; dup {
			t.Fatalf("client %d's frame came out twice", c)
		}
		got[c] = [6]byte(f[0:6])
	}
	if len(got) != flows {
		t.Fatalf("%d of %d frames came out", len(got), flows)
	}
	return got
}

// maglev between the two ports: every client frame comes out on port 1
// to the backend the Maglev table gives its flow, MACs rewritten and the
// rest intact; after `remove be1` on its input, be1's flows move and every
// other flow keeps its backend; after `add`, the new backend's weight
// shows in its share of the table; the counters at the end account for
// every packet.
func TestMaglevProgram(t *testing.T) {
	r := newRig(t)
	spec := "be0=02:be:00:00:00:00,be1=02:be:00:00:00:01,be2=02:be:00:00:00:02/2,be3=02:be:00:00:00:03"
	bs, err := lb.ParseBackends(spec)
	if err != nil {
		t.Fatal(err)
	}
	table, err := lb.NewTable(0, bs)
	if err != nil {
		t.Fatal(err)
	}
	p := r.s.Start(t, "", "maglev", "-b", spec)
	waitFor(t, p, `(?m)^maglev: commands on the input`)

	const flows = 400
	first := r.send(t, p, flows)
	perBackend := map[[6]byte]int{}
	for c, mac := range first {
		fl, _ := lb.ParseFlow(clientFrame(c))
		if want := bs[table.Lookup(fl.Hash())].MAC; mac != want {
			t.Fatalf("client %d went to % x, the table says % x", c, mac, want)
		}
		perBackend[mac]++
	}
	t.Logf("flows per backend: %v", perBackend)

	p.Type([]byte("remove be1\n"))
	waitFor(t, p, `(?m)^maglev: removed be1: 3 backends, table switched in \S+ after 400 packets$`)
	second := r.send(t, p, flows)
	moved, fromBe1 := 0, 0
	for c, mac := range second {
		switch {
		case first[c] == bs[1].MAC:
			fromBe1++
			if mac == bs[1].MAC {
				t.Errorf("client %d still goes to the removed be1", c)
			}
		case mac != first[c]:
			moved++
		}
	}
	if moved != 0 || fromBe1 != perBackend[bs[1].MAC] || fromBe1 == 0 {
		t.Errorf("%d flows of the remaining backends moved (want 0); %d moved off be1, which had %d", moved, fromBe1, perBackend[bs[1].MAC])
	}

	p.Type([]byte("add be4 02:be:00:00:00:04 3\nadd be0 02:be:00:00:00:09\nweight be9 2\nfrob\n"))
	waitFor(t, p, `(?m)^maglev: added be4: 4 backends`)
	p.Type([]byte("quit\n"))
	out, st, err := p.Wait()
	t.Logf("maglev:\n%s", out)
	if err != nil || !st.Exited || st.Status != 0 {
		t.Fatalf("maglev: %+v, %v", st, err)
	}
	for _, want := range []string{
		`(?m)^maglev: ixgbe0 -> ixgbe1, batch 32, 4 backends, table of 65537 entries, conntrack 65536 flows \(idle 1m0s\); until quit or the end of the input$`,
		`(?m)^maglev: forwarded 800 packets in \S+s: \S+ Mpps; received 802, dropped 2 \(not IPv4\), lost 0, waiting 0$`,
		// Weight 3 of 1+2+1+3: 3/7 of the table.
		`(?m)^be4 +02:be:00:00:00:04 +3 +2808\d +42\.8\d% +0$`,
		fmt.Sprintf(`(?m)^be1 +02:be:00:00:00:01 +- +0 +0\.00%% +%d \(removed\)$`, fromBe1),
		`maglev: add be0: there is a backend of that name already`,
		`maglev: weight be9: no such backend \(backends: be0, be2, be3, be4\)`,
		`maglev: unknown command "frob"`,
		`(?m)^maglev: ixgbe1: rx 0 packets, 0 missed; tx 800 packets \(during this run\)$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output lacks %s", want)
		}
	}
	if c := r.m[0].Counters(); c.Missed != 0 {
		t.Errorf("port 0's model missed %d frames", c.Missed)
	}
}

// Bad flags and missing ports: clear errors, nothing forwarded.
func TestMaglevProgramErrors(t *testing.T) {
	r := newRig(t)
	for _, c := range []struct {
		args   []string
		status int32
		want   string
	}{
		{nil, 2, "maglev: no backends: give them with -b NAME=MAC[/WEIGHT],..."},
		{[]string{"-b", "web1"}, 2, `maglev: -b: maglev: backend "web1": want NAME=MAC[/WEIGHT]`},
		{[]string{"-b", "web1=01:00:00:00:00:01"}, 2, "a backend's address must be unicast and not zero"},
		{[]string{"-b", "web1=02:00:00:00:00:01/0"}, 2, `bad weight "0": want 1..1000`},
		{[]string{"-b", "a=02:00:00:00:00:01,a=02:00:00:00:00:02"}, 2, "maglev: backend a given twice"},
		{[]string{"-b", "a=02:00:00:00:00:01", "-m", "65536"}, 2, "table size 65536 is not a prime"},
		{[]string{"-b", "a=02:00:00:00:00:01", "-batch", "257"}, 2, "bad batch size 257: want 1..256"},
		{[]string{"-b", "a=02:00:00:00:00:01", "-flows", "1"}, 2, "bad -flows 1"},
		{[]string{"-b", "a=02:00:00:00:00:01", "-flows", "4194305"}, 2, "bad -flows 4194305: want 16..4194304"},
		{[]string{"-b", "a=02:00:00:00:00:01", "-m", "2147483647"}, 2, "table size 2147483647 is too large: at most 16777216"},
		{[]string{"-b", "a=02:00:00:00:00:01", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"-b", "a=02:00:00:00:00:01", "-to", "ixgbe7"}, 1, "maglev: ixgbe7: this process was not given port ixgbe7"},
	} {
		out, st := r.s.Run(t, "maglev", c.args...)
		if st.Status != c.status || !strings.Contains(out, c.want) {
			t.Errorf("maglev %q: %+v, want status %d and %q in:\n%s", c.args, st, c.status, c.want, out)
		}
	}
	if c := r.m[1].Counters(); c.Sent != 0 {
		t.Errorf("port 1 sent %d frames", c.Sent)
	}
}

// With -n the run ends at the count, not at the end of the input (there is
// none here); -i prints the counters as it goes.
func TestMaglevProgramCount(t *testing.T) {
	r := newRig(t)
	r.m[1].Capture(false)
	r.m[0].Generate(0, clientFrame(7))
	out, st := r.s.Run(t, "maglev", "-b", "a=02:be:00:00:00:01,b=02:be:00:00:00:02", "-n", "200000", "-i", "1ms")
	t.Logf("%s", out)
	if !st.Exited || st.Status != 0 {
		t.Fatalf("maglev: %+v", st)
	}
	m := regexp.MustCompile(`maglev: forwarded (\d+) packets`).FindStringSubmatch(out)
	if m == nil {
		t.Fatal("no final count")
	}
	if n, _ := strconv.Atoi(m[1]); n < 200000 {
		t.Errorf("forwarded %d, want at least 200000", n)
	}
	if !strings.Contains(out, "until 200000 packets") || !regexp.MustCompile(`(?m)^maglev: +\d+\.\d\ds forwarded \d+ \(\d+\.\d+ Mpps\), dropped 0, conntrack hits \d+ misses 1$`).MatchString(out) {
		t.Error("no limit line or no interval line")
	}
	// One client: all its packets to one backend, none to the other.
	if !regexp.MustCompile(`(?m)^[ab] +02:be:00:00:00:0[12] +1 +3276\d +50\.00% +0$`).MatchString(out) {
		t.Error("the client's packets went to both backends")
	}
}
