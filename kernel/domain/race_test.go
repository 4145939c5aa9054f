//go:build race

package domain_test

// raceEnabled: under the race detector sync.Pool drops a share of what it
// is given, on purpose, so pooled frames are reallocated now and then.
const raceEnabled = true
