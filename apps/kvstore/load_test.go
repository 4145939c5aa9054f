package kvstore

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The load: conns clients, each a request-response loop of 90% get and
// 10% set of 100-byte values over 10,000 keys.
const (
	loadConns = 4
	loadKeys  = 10000
	loadValue = 100
)

// runLoad drives ops operations over the connections dial makes and
// reports ops/s and latency percentiles as benchmark metrics.
func runLoad(b *testing.B, dial func() (io.ReadWriteCloser, error)) {
	val := make([]byte, loadValue)
	for i := range val {
		val[i] = 'v'
	}
	// Preload the keys.
	c, err := dial()
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(c)
	for k := range loadKeys {
		fmt.Fprintf(w, "set key:%d 0 0 %d noreply\r\n%s\r\n", k, loadValue, val)
	}
	w.WriteString("version\r\n")
	w.Flush()
	bufio.NewReader(c).ReadString('\n')
	c.Close()

	per := b.N/loadConns + 1
	lat := make([][]time.Duration, loadConns)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for ci := range loadConns {
		conn, err := dial()
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			r := bufio.NewReader(conn)
			w := bufio.NewWriter(conn)
			rng := rand.New(rand.NewPCG(uint64(ci), 9))
			l := make([]time.Duration, 0, per)
			req := make([]byte, 0, 256)
			for range per {
				k := rng.IntN(loadKeys)
				t0 := time.Now()
				req = req[:0]
				get := rng.IntN(10) != 0
				if get {
					req = append(append(append(req, "get key:"...), strconv.Itoa(k)...), "\r\n"...)
				} else {
					req = fmt.Appendf(req, "set key:%d 0 0 %d\r\n%s\r\n", k, loadValue, val)
				}
				w.Write(req)
				w.Flush()
				if get {
					for {
						line, err := r.ReadSlice('\n')
						if err != nil {
							b.Error(err)
							return
						}
						if string(line) == "END\r\n" {
							break
						}
					}
				} else if line, err := r.ReadSlice('\n'); err != nil || string(line) != "STORED\r\n" {
					b.Errorf("set: %q %v", line, err)
					return
				}
				l = append(l, time.Since(t0))
			}
			lat[ci] = l
		}()
	}
	wg.Wait()
	el := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) }
	b.ReportMetric(float64(len(all))/el.Seconds(), "ops/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(pct(0.999), "p99.9-µs")
}

// BenchmarkLoad compares the kvstore with Debian's memcached under the same
// load, over loopback TCP, and the kvstore in-process (net.Pipe: no TCP).
//
//	go test ./apps/kvstore -run '^$' -bench Load -benchtime 200000x
func BenchmarkLoad(b *testing.B) {
	b.Run("kvstore-inprocess", func(b *testing.B) {
		srv := NewServer(Config{})
		runLoad(b, func() (io.ReadWriteCloser, error) {
			c, s := net.Pipe()
			go srv.ServeConn(s)
			return c, nil
		})
	})
	b.Run("kvstore-loopback", func(b *testing.B) {
		addr := serve(b, NewServer(Config{}))
		runLoad(b, func() (io.ReadWriteCloser, error) { return net.Dial("tcp", addr) })
	})
	b.Run("memcached-loopback", func(b *testing.B) {
		bin, err := exec.LookPath("memcached")
		if err != nil {
			b.Skip("needs memcached (Debian package memcached)")
		}
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
		cmd := exec.Command(bin, "-l", "127.0.0.1", "-p", port, "-U", "0", "-t", "1", "-m", "64", "-u", "root")
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		addr := "127.0.0.1:" + port
		var c net.Conn
		for range 100 { // until it listens
			if c, err = net.Dial("tcp", addr); err == nil {
				c.Close()
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			b.Fatal(err)
		}
		runLoad(b, func() (io.ReadWriteCloser, error) { return net.Dial("tcp", addr) })
	})
}
