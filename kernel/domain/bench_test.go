package domain_test

import (
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/rlgo/redleaf/idl"
	"github.com/rlgo/redleaf/internal/testdomains/nullbench"
	"github.com/rlgo/redleaf/kernel/domain"
	"github.com/rlgo/redleaf/kernel/rref"
	"github.com/rlgo/redleaf/kernel/shadow"
)

// directBench is the callee of the direct benchmark. A package variable,
// so that the compiler cannot see its type and devirtualize the call: that
// would measure no call at all.
var directBench idl.Bench = &nullbench.Bench{}

// pipeChild is the environment variable that makes the test binary the
// other end of the pipe benchmark.
const pipeChild = "RL_BENCH_PIPE_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(pipeChild) == "1" {
		echoBytes(os.Stdin, os.Stdout)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// echoBytes writes back every byte it reads, one at a time, until EOF.
func echoBytes(r io.Reader, w io.Writer) {
	var b [1]byte
	for {
		if _, err := r.Read(b[:]); err != nil {
			return
		}
		if _, err := w.Write(b[:]); err != nil {
			return
		}
	}
}

// BenchmarkCrossDomainCall measures one call across a boundary, every way,
// in one run: the ratios to direct are what counts (x-direct), the machine
// being shared and noisy.
//
//	direct          a plain Go interface call to the same object
//	proxy           a null call through a proxy
//	proxy-rref      one RRef moved in and back (Echo)
//	proxy-borrow    one RRef lent for the call (Peek)
//	proxy-deadline  a null call through a capability with a deadline (runs on a worker)
//	shadow          a null call through a shadow
//	chan            a goroutine round trip over unbuffered channels
//	pipe            a round trip of one byte between two OS processes over pipes
func BenchmarkCrossDomainCall(b *testing.B) {
	m := domain.NewManager()
	defer m.Close()
	d, err := m.Create(nullbench.Kind)
	if err != nil {
		b.Fatal(err)
	}
	heap := m.Kernel().Heap()
	proxy, _ := domain.Connect[idl.Bench](m.Kernel(), d)
	guarded, _ := domain.Connect[idl.Bench](m.Kernel(), d, domain.Deadline(time.Minute))
	g, err := shadow.New(m, d, shadow.Policy{})
	if err != nil {
		b.Fatal(err)
	}
	shadowed, _ := domain.Connect[idl.Bench](m.Kernel(), g)
	direct := directBench

	var directNs float64 // of the last run of direct, which runs first
	run := func(name string, f func(b *testing.B)) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			f(b)
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			if name == "direct" {
				directNs = ns
			}
			b.ReportMetric(ns/directNs, "x-direct")
		})
	}

	run("direct", func(b *testing.B) {
		for b.Loop() {
			direct.Null()
		}
	})
	run("proxy", func(b *testing.B) {
		for b.Loop() {
			proxy.Null()
		}
	})
	run("proxy-rref", func(b *testing.B) {
		r := rref.New(heap, idl.Block{})
		for b.Loop() {
			r, _ = proxy.Echo(r)
		}
		r.Drop()
	})
	run("proxy-borrow", func(b *testing.B) {
		r := rref.New(heap, idl.Block{})
		for b.Loop() {
			proxy.Peek(r.Borrow(), 0)
		}
		r.Drop()
	})
	run("proxy-deadline", func(b *testing.B) {
		for b.Loop() {
			guarded.Null()
		}
	})
	run("shadow", func(b *testing.B) {
		for b.Loop() {
			shadowed.Null()
		}
	})
	run("chan", func(b *testing.B) {
		req, resp := make(chan struct{}), make(chan struct{})
		go func() {
			for range req {
				resp <- struct{}{}
			}
		}()
		for b.Loop() {
			req <- struct{}{}
			<-resp
		}
		close(req)
	})
	run("pipe", func(b *testing.B) {
		exe, err := os.Executable()
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), pipeChild+"=1")
		in, err := cmd.StdinPipe()
		if err != nil {
			b.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		defer cmd.Wait()
		defer in.Close()
		var buf [1]byte
		for b.Loop() {
			if _, err := in.Write(buf[:]); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(out, buf[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
