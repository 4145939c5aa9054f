package events

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func TestLog(t *testing.T) {
	var l Log
	l.PerMachine = 3
	l.Add(Event{MAC: "m1", Kind: DHCP, IP: "10.0.0.5"})
	for i := range 4 {
		l.Add(Event{MAC: "m1", Kind: HTTP, Detail: string(rune('a' + i))})
	}
	evs := l.For("m1")
	if len(evs) != 3 || evs[0].Detail != "b" || evs[2].Detail != "d" {
		t.Errorf("kept %+v", evs)
	}
	if mac, ok := l.Who(netip.MustParseAddr("10.0.0.5")); !ok || mac != "m1" {
		t.Errorf("Who = %q %v", mac, ok)
	}
	// The address moves to another machine.
	l.Add(Event{MAC: "m2", Kind: DHCP, IP: "10.0.0.5"})
	if mac, _ := l.Who(netip.MustParseAddr("10.0.0.5")); mac != "m2" {
		t.Errorf("Who after move = %q", mac)
	}
	l.Seen("m3", netip.MustParseAddr("10.0.0.7"))
	if mac, _ := l.Who(netip.MustParseAddr("10.0.0.7")); mac != "m3" {
		t.Errorf("Seen: %q", mac)
	}
	if c := l.Counts(); c[HTTP] != 4 || c[DHCP] != 2 {
		t.Errorf("counts %v", c)
	}
	if ms := l.Machines(); len(ms) != 2 || ms[0].MAC != "m1" || ms[0].Last != HTTP || ms[1].IP != "10.0.0.5" {
		t.Errorf("machines %+v", ms)
	}
}

func TestWait(t *testing.T) {
	var l Log
	l.Add(Event{MAC: "m", Kind: DHCP})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if e, err := l.Wait(ctx, "m", func(e Event) bool { return e.Kind == DHCP }); err != nil || e.Kind != DHCP {
		t.Fatalf("existing event: %v %v", e, err)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		l.Add(Event{MAC: "other", Kind: Booted})
		l.Add(Event{MAC: "m", Kind: Booted})
	}()
	if e, err := l.Wait(ctx, "m", func(e Event) bool { return e.Kind == Booted }); err != nil || e.MAC != "m" {
		t.Fatalf("new event: %v %v", e, err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	if _, err := l.Wait(short, "m", func(e Event) bool { return e.Kind == Results }); err == nil {
		t.Error("Wait without a match returned")
	}
}

// TestBoundedMachines: made-up MACs push out each other, oldest first,
// never a known machine.
func TestBoundedMachines(t *testing.T) {
	l := &Log{MaxMachines: 100, Known: func(mac string) bool { return mac == "known" }}
	l.Add(Event{MAC: "known", Kind: DHCP, IP: "10.0.0.5"})
	for i := range 30000 {
		l.Add(Event{MAC: fmt.Sprintf("m%d", i), Kind: DHCP, IP: fmt.Sprintf("10.1.%d.%d", i/256, i%256)})
	}
	ms := l.Machines()
	if len(ms) != 101 {
		t.Fatalf("%d machines kept", len(ms))
	}
	if len(l.For("known")) != 1 || len(l.For("m29999")) != 1 || len(l.For("m0")) != 0 || len(l.For("m29900")) != 1 || len(l.For("m29899")) != 0 {
		t.Error("wrong machines pushed out")
	}
	if mac, ok := l.Who(netip.MustParseAddr("10.0.0.5")); !ok || mac != "known" {
		t.Error("known machine's address forgotten")
	}
	if _, ok := l.Who(netip.MustParseAddr("10.1.0.0")); ok {
		t.Error("pushed-out machine's address kept")
	}
	if l.Evicted() != 29900 {
		t.Errorf("evicted %d", l.Evicted())
	}
}
