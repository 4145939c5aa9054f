package stack

import (
	"io"
	"net"
	"testing"
)

// BenchmarkTransfer measures one-way TCP throughput between two stacks in
// one goroutine over the in-memory link (no loss): the cost of the stack
// itself, both ends, per byte. After warm-up it allocates nothing.
func BenchmarkTransfer(b *testing.B) {
	chunk := stream(1, 64<<10)
	move := mover(b, Config{RecvBuf: 1 << 20, SendBuf: 1 << 20}, chunk)
	for range 64 { // warm up: buffers, pools, windows
		move()
	}
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		move()
	}
}

// mover connects two stacks of cfg over the in-memory link and returns a
// function that moves chunk from one to the other, driving both.
func mover(tb testing.TB, cfg Config, chunk []byte) func() {
	p := newPair(tb, 1, cfg)
	client, server := p.connect(80)
	buf := make([]byte, len(chunk))
	return func() {
		off, got := 0, 0
		for got < len(chunk) {
			if off < len(chunk) {
				n, _ := client.Write(chunk[off:])
				off += n
			}
			p.round()
			for {
				n, err := server.Read(buf)
				if err != nil {
					break
				}
				got += n
			}
		}
	}
}

// TestTransferAllocs checks the steady state allocates nothing per packet.
func TestTransferAllocs(t *testing.T) {
	move := mover(t, Config{RecvBuf: 256 << 10, SendBuf: 256 << 10}, stream(1, 16<<10))
	for range 64 {
		move()
	}
	if a := testing.AllocsPerRun(100, move); a != 0 {
		t.Fatalf("%v allocations per 16 KiB moved, want 0", a)
	}
}

// BenchmarkTransferLinuxLoopback is the baseline of BenchmarkTransfer:
// one TCP connection over Linux's loopback, 64 KiB writes and reads.
func BenchmarkTransferLinuxLoopback(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	done := make(chan int64)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- 0
			return
		}
		n, _ := io.Copy(io.Discard, c)
		c.Close()
		done <- n
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	chunk := stream(1, 64<<10)
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	for range b.N {
		c.Write(chunk)
	}
	c.Close()
	<-done
}
