package rref

import (
	"strconv"
	"testing"
)

// BenchmarkDequeCycle pops every element of a full batch and pushes it
// back, as a driver walking a batch of packet buffers does: per element,
// one pop and one push (two compare-and-swaps and the ring arithmetic).
// The modulo sub-benchmark does the ring arithmetic with a division, as
// the deque did before wrap, in the same run, for the ratio.
func BenchmarkDequeCycle(b *testing.B) {
	for _, n := range []int{32, 256} {
		b.Run("batch"+strconv.Itoa(n), func(b *testing.B) {
			a := newAccount("bench")
			d := NewDeque[[64]byte](a, n)
			for range n {
				d.PushBack(New(a, [64]byte{}))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				for range n {
					x, _ := d.PopFront()
					d.PushBack(x)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
		})
	}
	// The same walk in place (At): no ownership moves, one atomic load
	// per element.
	for _, n := range []int{32, 256} {
		b.Run("at-batch"+strconv.Itoa(n), func(b *testing.B) {
			a := newAccount("bench")
			d := NewDeque[[64]byte](a, n)
			for range n {
				d.PushBack(New(a, [64]byte{}))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				for i := range n {
					d.At(i)[0]++
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/elem")
		})
	}
	// The arithmetic alone, with the division the deque used to make.
	b.Run("ring-modulo", func(b *testing.B) {
		head, cnt, size := 0, 31, 32
		for range b.N {
			head = (head + 1) % size
			cnt = (head + cnt) % size
		}
		sink = head + cnt
	})
	b.Run("ring-wrap", func(b *testing.B) {
		head, cnt, size := 0, 31, 32
		for range b.N {
			head = wrap(head+1, size)
			cnt = wrap(head+cnt, size)
		}
		sink = head + cnt
	})
}

var sink int
