//go:build race

package faultcampaign

const raceEnabled = true
