//rl:domain

// Package other is a domain another domain may import.
package other

func Hello() string { return "hello" }
