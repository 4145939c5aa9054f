// Package hw stands in for the kernel's device accessors.
package hw

type Buffer struct{ b []byte }

func NewBuffer(b []byte, phys uint64) *Buffer { return &Buffer{b} }

func (b *Buffer) Len() int { return len(b.b) }
