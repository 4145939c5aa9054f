package sh

import (
	"context"
	"strings"
	"testing"
)

// FuzzShell runs fuzzed input through the interpreter with the builtins:
// no panic may escape, and the shell always ends.
func FuzzShell(f *testing.F) {
	for _, s := range []string{"echo hi\n", "exit 3\n", "false; echo $?\r\n", "help\n", "uname -a | echo\n", "x", "echo a >&2 | echo b\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		if strings.ContainsAny(input, "<>") {
			return // no files from fuzz input
		}
		var out lockedBuffer
		s := New(Options{Stdin: strings.NewReader(input), Stdout: &out})
		s.Run(context.Background())
	})
}
