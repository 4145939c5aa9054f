package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestGolden generates the proxies and shadows of testdata/sample, an IDL
// package with every kind of parameter and result, and compares them with
// the golden file; the golden file must also compile with the package.
func TestGolden(t *testing.T) {
	dir := filepath.Join("testdata", "sample")
	golden := filepath.Join(dir, "proxies_gen.go.golden")
	got, err := Generate(dir, defaultOut)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the output differs from %s (go test -update rewrites it):\n%s", golden, firstDiff(string(got), string(want)))
	}

	// The golden output compiles, as the generated file of the package.
	abs, _ := filepath.Abs(filepath.Join(dir, defaultOut))
	pkgs, err := packages.Load(&packages.Config{
		Mode:    packages.NeedName | packages.NeedTypes | packages.NeedSyntax | packages.NeedTypesInfo,
		Dir:     dir,
		Overlay: map[string][]byte{abs: want},
	}, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		for _, e := range p.Errors {
			t.Errorf("the golden output does not compile: %v", e)
		}
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return ""
}

// TestRejected checks that every signature of testdata/reject that cannot
// cross a domain boundary is rejected at its file:line:col, with why.
func TestRejected(t *testing.T) {
	_, err := Generate(filepath.Join("testdata", "reject"), defaultOut)
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	file := filepath.Join("testdata", "reject", "reject.go")
	for _, c := range []struct {
		what, pos string // pos: ":line:col: " and the start of the message
	}{
		{"pointer", ":10:6: Ptr.Set: parameter d (*Data): holds a pointer"},
		{"slice", ":14:8: Slice.Write: parameter buf ([]byte): holds a slice"},
		{"map", ":18:10: Map.Load: result 0 (map[string]int): holds a map"},
		{"chan", ":22:9: Chan.Events: parameter c (chan int): holds a channel"},
		{"func", ":26:7: Func.Each: parameter f (func(int)): holds a func"},
		{"missing error", ":30:2: NoError.Size: the last result must be an error"},
		{"error not last", ":34:2: ErrorNotLast.Get: the last result must be an error"},
		{"error as a result", ":34:9: ErrorNotLast.Get: result 0 (error): an error value may point into the callee's memory"},
		{"nested pointer", ":38:6: Nested.Put: parameter v (struct{P *int}): holds a pointer at .P"},
		{"variadic", ":42:6: Variadic.Log: parameter args ([]int): a variadic parameter is a slice"},
		{"interface", ":46:7: Any.Send: parameter v (any): holds an interface"},
		{"error parameter", ":50:9: ErrorParam.Report: parameter err (error): an error value"},
		{"borrow result", ":54:10: BorrowResult.Lend: result 0 (rref.Borrow[Data]): rref.Borrow can only be a parameter"},
		{"RRef payload", ":58:6: BadPayload.Put: parameter r (rref.RRef[[]byte]): its payload holds a slice"},
		{"RRef in a struct", ":62:6: RRefInStruct.Put: parameter v (struct{R rref.RRef[Data]}): holds an rref.RRef at .R"},
		{"uintptr", ":66:7: Uintptr.Addr: parameter p (uintptr): holds a uintptr"},
		{"init with an RRef", ":71:8: InitWithRRef.Start: parameter r (rref.RRef[Data]): an //idl:init method takes plain data only"},
	} {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, file+c.pos) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no line starting with %s%s", c.what, file, c.pos)
		}
	}
	if len(lines) != 17 {
		t.Errorf("%d problems, want 17:\n%s", len(lines), err)
	}
}

// TestIDLUpToDate checks that the repository's generated proxies are what
// the generator writes now.
func TestIDLUpToDate(t *testing.T) {
	dir := filepath.Join("..", "..", "idl")
	got, err := Generate(dir, defaultOut)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(dir, defaultOut))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("idl/%s is out of date: run go generate ./idl/...\n%s", defaultOut, firstDiff(string(got), string(want)))
	}
}

// TestStaleOutputIgnored: a broken previous output does not stop the
// generator, which reads the package without it.
func TestStaleOutputIgnored(t *testing.T) {
	out := filepath.Join("testdata", "sample", defaultOut)
	if err := os.WriteFile(out, []byte("package sample\n\nvar broken int = \"not an int\"\n\nfunc (*Page) Undefined() { undefined() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(out) })
	got, err := Generate(filepath.Join("testdata", "sample"), defaultOut)
	if err != nil {
		t.Fatalf("a broken previous output stopped the generator: %v", err)
	}
	if want, _ := os.ReadFile(filepath.Join("testdata", "sample", "proxies_gen.go.golden")); !bytes.Equal(got, want) {
		t.Error("the output depends on the previous one")
	}
}
