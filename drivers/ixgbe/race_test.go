//go:build race

package ixgbe

const raceEnabled = true
