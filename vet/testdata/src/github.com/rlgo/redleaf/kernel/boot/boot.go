//rl:domain

// Package boot stands in for trusted kernel code. Its mark does not make
// it importable by domains.
package boot
