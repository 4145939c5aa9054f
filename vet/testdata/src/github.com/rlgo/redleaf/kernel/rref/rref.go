// Package rref stands in for the kernel's shared heap API.
package rref
