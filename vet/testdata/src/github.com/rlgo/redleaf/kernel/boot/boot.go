// Package boot stands in for trusted kernel code.
package boot
