package ixgbe

import "sync/atomic"

// A Mode is the kernel's switch of a port's link mode, granted to the
// domain under GrantMode. It is read when an instance starts, so the
// kernel changes a running port's mode by setting the switch and
// restarting the domain through its shadow (which replays its
// configuration into the new instance, and into any later one while the
// switch stays set): a self-test puts a port in MAC loopback and back
// without the IDL having a call for it. The zero Mode is normal operation.
type Mode struct {
	loopback atomic.Bool
}

// SetLoopback sets whether instances started from now on run in MAC
// loopback (Config.Loopback).
func (m *Mode) SetLoopback(on bool) { m.loopback.Store(on) }

// Loopback reports whether instances start in MAC loopback.
func (m *Mode) Loopback() bool { return m.loopback.Load() }
