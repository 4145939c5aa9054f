package faultcampaign

import (
	"testing"
)

// TestRAMDiskCampaign is the CI-sized campaign over the RAM disk: 10,000
// faults (2,000 under -race or -short), every kind, 1% endless loops past a
// 20 ms deadline, kills between calls and at random moments, verified
// blocks; nothing may reach the client, go bad, escape or be left behind.
func TestRAMDiskCampaign(t *testing.T) {
	n := 10000
	if raceEnabled || testing.Short() {
		n = 2000
	}
	r, err := Run(&RAMDisk{}, Config{Faults: n, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", r.Table())
	if err := r.Check(); err != nil {
		t.Error(err)
	}
}

// TestIXGBECampaign is the campaign over the ixgbe driver on the 82599
// model in loopback, packets counted end to end. Each restart waits the
// 10 ms the datasheet asks after a reset, so it is smaller.
func TestIXGBECampaign(t *testing.T) {
	n := 300
	if raceEnabled || testing.Short() {
		n = 100
	}
	tg := &IXGBE{}
	r, err := Run(tg, Config{Faults: n, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s\npackets lost with a driver instance: %d", r.Table(), tg.Lost())
	if err := r.Check(); err != nil {
		t.Error(err)
	}
	if r.Units == 0 {
		t.Error("no packet came back")
	}
}

// TestIXGBEZeroCopyCampaign is the ixgbe campaign with the driver's rings
// holding cells of a packet pool: whatever the faults, every cell is back
// in the pool at the end and none leaked.
func TestIXGBEZeroCopyCampaign(t *testing.T) {
	n := 100
	if raceEnabled || testing.Short() {
		n = 40
	}
	tg := &IXGBE{ZeroCopy: true}
	r, err := Run(tg, Config{Faults: n, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s\npackets lost with a driver instance: %d", r.Table(), tg.Lost())
	if err := r.Check(); err != nil {
		t.Error(err)
	}
	if r.Units == 0 {
		t.Error("no packet came back")
	}
	if free, capacity := tg.PoolFree(); free != capacity {
		t.Errorf("%d of %d cells of the packet pool back after the campaign", free, capacity)
	}
}
