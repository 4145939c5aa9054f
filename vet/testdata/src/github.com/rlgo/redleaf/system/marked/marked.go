//rl:domain

// Package marked is in the composition root and claims to be a domain: the
// mark does not make it importable by domains, nor lift the root rules.
package marked
