// Package logline bounds the netboot server's log lines. Values in
// them come from the network (a Range header, a file name, a DHCP host
// name, an error quoting a request): the server's logger is wrapped by
// Bound once, where it is made, so no line can be longer than a few
// KiB whatever a client sends.
package logline

import (
	"context"
	"fmt"
	"log/slog"
	"unicode/utf8"
)

// Max is the longest string value kept whole, in bytes.
const Max = 256

// Bound returns a handler that passes records to h with every string
// value (message, attributes, groups, errors and Stringers included)
// cut to Max bytes, the cut marked with the original length.
func Bound(h slog.Handler) slog.Handler { return &handler{h: h} }

type handler struct{ h slog.Handler }

func (b *handler) Enabled(ctx context.Context, l slog.Level) bool { return b.h.Enabled(ctx, l) }

func (b *handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, Clip(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(clipAttr(a))
		return true
	})
	return b.h.Handle(ctx, out)
}

func (b *handler) WithAttrs(as []slog.Attr) slog.Handler {
	cl := make([]slog.Attr, len(as))
	for i, a := range as {
		cl[i] = clipAttr(a)
	}
	return &handler{h: b.h.WithAttrs(cl)}
}

func (b *handler) WithGroup(name string) slog.Handler {
	return &handler{h: b.h.WithGroup(Clip(name))}
}

func clipAttr(a slog.Attr) slog.Attr {
	a.Key = Clip(a.Key)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(Clip(v.String()))
	case slog.KindGroup:
		g := v.Group()
		cl := make([]slog.Attr, len(g))
		for i, ga := range g {
			cl[i] = clipAttr(ga)
		}
		a.Value = slog.GroupValue(cl...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			a.Value = slog.StringValue(Clip(x.Error()))
		case fmt.Stringer:
			a.Value = slog.StringValue(Clip(x.String()))
		case []byte:
			a.Value = slog.StringValue(Clip(string(x)))
		default:
			a.Value = slog.StringValue(Clip(fmt.Sprint(x)))
		}
	default:
		a.Value = v
	}
	return a
}

// Clip cuts s to at most Max bytes (on a rune boundary) and says how
// long it was.
func Clip(s string) string {
	if len(s) <= Max {
		return s
	}
	cut := Max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:cut], len(s))
}
