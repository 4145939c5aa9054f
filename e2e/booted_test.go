package e2e

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/rlgo/redleaf/qemu"
)

// A booted is a VM a test started, with the transcript of its console and
// the steps tests take on it: expect console output, type a line, fail
// with the console's end.
type booted struct {
	tb         testing.TB
	ctx        context.Context
	vm         *qemu.VM
	transcript *bytes.Buffer
}

// bootVM starts c under ctx; the VM is closed when the test ends.
func bootVM(tb testing.TB, ctx context.Context, c qemu.Config) *booted {
	tb.Helper()
	b := &booted{tb: tb, ctx: ctx, transcript: &bytes.Buffer{}}
	vm, err := qemu.Start(ctx, c, qemu.WithTranscript(b.transcript))
	if err != nil {
		tb.Fatal(err)
	}
	b.vm = vm
	tb.Cleanup(func() { vm.Close() })
	return b
}

// fail kills the VM and fails the test with the console's last 6000 bytes.
func (b *booted) fail(format string, args ...any) {
	b.tb.Helper()
	b.vm.Kill()
	b.tb.Fatalf("%s\nconsole:\n%s", fmt.Sprintf(format, args...), tail(b.transcript.String(), 6000))
}

// expect waits up to timeout for re on the console and returns its match.
func (b *booted) expect(timeout time.Duration, re string) []string {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	m, err := b.vm.Console().Expect(ctx, regexp.MustCompile(re))
	if err != nil {
		b.fail("%v", err)
	}
	return m
}

// send types line and Enter on the console.
func (b *booted) send(line string) {
	b.tb.Helper()
	if err := b.vm.Console().SendLine(line); err != nil {
		b.fail("sending %q: %v", line, err)
	}
}
