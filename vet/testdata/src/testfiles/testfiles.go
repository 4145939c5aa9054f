// Package testfiles has tests that use os, which is fine: tests are not checked.
package testfiles

func Double(n int) int { return 2 * n }
