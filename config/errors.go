package config

import (
	"fmt"
	"strings"
)

// Error is one invalid configuration value.
type Error struct {
	Key    string // dotted key, e.g. "kernel.source"
	Origin string // "configs/qemu.yaml:7", "environment variable RLBUILD_ARCH", "flag --arch", "default"
	Msg    string // what is wrong
	Fix    string // what would fix it
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Origin != "" {
		b.WriteString(e.Origin)
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Fix != "" {
		b.WriteString("; ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

// Errors is every problem found in one configuration, in file order.
type Errors []*Error

func (es Errors) Error() string {
	if len(es) == 1 {
		return es[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems in the configuration:", len(es))
	for _, e := range es {
		b.WriteString("\n  ")
		b.WriteString(e.Error())
	}
	return b.String()
}
