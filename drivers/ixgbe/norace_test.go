//go:build !race

package ixgbe

const raceEnabled = false
