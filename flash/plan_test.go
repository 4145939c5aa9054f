package flash

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rlgo/redleaf/images/bmap"
)

func TestLayout(t *testing.T) {
	const M = 1 << 20
	m := &bmap.Map{ImageSize: 40*M + 1536, BlockSize: 4096, Ranges: []bmap.Range{
		{First: 0, Last: 4},         // in the head
		{First: 250, Last: 260},     // across the head's end
		{First: 512, Last: 512},     // 1 MiB later: filled
		{First: 1024, Last: 1027},   // more than 1 MiB later
		{First: 10240, Last: 10240}, // the partial last block
	}}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	p := &Plan{Image: &Image{Size: m.ImageSize, Map: m}, Device: &Device{LogicalBlockSize: 512}}
	p.layout()
	end := int64(40*M + 1536)
	if p.Head != (Span{0, M}) || p.end != end {
		t.Errorf("head %v, end %d", p.Head, p.end)
	}
	wantExtents := []Span{{M, 513 * 4096}, {4 * M, 1028 * 4096}, {40 * M, end}}
	if !reflect.DeepEqual(p.Extents, wantExtents) {
		t.Errorf("extents %v, want %v", p.Extents, wantExtents)
	}
	wantHoles := []Span{{513 * 4096, 4 * M}, {1028 * 4096, 40 * M}}
	if !reflect.DeepEqual(p.Holes, wantHoles) {
		t.Errorf("holes %v, want %v", p.Holes, wantHoles)
	}
	if p.WriteBytes() != M+(513*4096-M)+(1028*4096-4*M)+1536 {
		t.Errorf("WriteBytes() = %d", p.WriteBytes())
	}
	// The pieces tile the head and the extents: ranges and fillers.
	covered := append([]Span{p.Head}, p.Extents...)
	var got []Span
	ranges := 0
	for _, pc := range p.pieces {
		if n := len(got); n > 0 && got[n-1].End == pc.Off {
			got[n-1].End = pc.End
		} else {
			got = append(got, pc.Span)
		}
		if pc.rng != nil {
			ranges++
		}
	}
	if !reflect.DeepEqual(got, []Span{{0, 513 * 4096}, {4 * M, 1028 * 4096}, {40 * M, end}}) || ranges != len(m.Ranges) {
		t.Errorf("pieces cover %v with %d ranges, want %v with %d", got, ranges, covered, len(m.Ranges))
	}

	// A device with 4 KiB logical blocks pads the end to 4 KiB.
	p = &Plan{Image: &Image{Size: m.ImageSize, Map: m}, Device: &Device{LogicalBlockSize: 4096}}
	p.layout()
	if last := p.Extents[len(p.Extents)-1]; last.End != 40*M+4096 {
		t.Errorf("last extent %v on a 4 KiB-sector device", last)
	}
}

func TestLedger(t *testing.T) {
	pieces := []piece{{Span: Span{0, 10}}, {Span: Span{10, 20}}, {Span: Span{30, 35}}}
	var done []Span
	l := newLedger(pieces, func(pc *piece, sum []byte) error {
		done = append(done, pc.Span)
		return nil
	})
	data := bytes.Repeat([]byte{1}, 40)
	if err := l.feed(0, data[:15]); err != nil {
		t.Fatal(err)
	}
	if err := l.feed(15, data[15:20]); err != nil {
		t.Fatal(err)
	}
	if l.complete() {
		t.Error("complete before the last piece")
	}
	if err := l.feed(30, data[30:35]); err != nil {
		t.Fatal(err)
	}
	if !l.complete() || len(done) != 3 {
		t.Errorf("complete %v, done %v", l.complete(), done)
	}
	// Skipping into the middle of a piece is a bug.
	l = newLedger(pieces, func(*piece, []byte) error { return nil })
	if err := l.feed(5, data[:5]); err == nil {
		t.Error("feeding from the middle of a piece succeeded")
	}
	stop := errors.New("stop")
	l = newLedger(pieces, func(*piece, []byte) error { return stop })
	if err := l.feed(0, data[:10]); err != stop {
		t.Errorf("done's error not returned: %v", err)
	}
}

func TestProbe(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ fstype, label string }{{"vfat", "RLGO-ESP"}, {"ext4", "rlgo-root"}} {
		path := dir + "/" + tc.fstype + ".img"
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, 64<<20); err != nil {
			t.Fatal(err)
		}
		mkfs(t, tc.fstype, tc.label, path)
		if fstype, label := probeFile(path); fstype != tc.fstype || label != tc.label {
			t.Errorf("probe(%s) = %q %q, want %q %q", tc.fstype, fstype, label, tc.fstype, tc.label)
		}
	}
	iso := make([]byte, 40<<10)
	copy(iso[32768+1:], "CD001")
	copy(iso[32768+40:], "DEBIAN_12                       ")
	if fstype, label := probe(bytes.NewReader(iso)); fstype != "iso9660" || label != "DEBIAN_12" {
		t.Errorf("probe(iso) = %q %q", fstype, label)
	}
	swap := make([]byte, 8192)
	copy(swap[4096-10:], "SWAPSPACE2")
	copy(swap[1024+28:], "swappy")
	if fstype, label := probe(bytes.NewReader(swap)); fstype != "swap" || label != "swappy" {
		t.Errorf("probe(swap) = %q %q", fstype, label)
	}
	if fstype, _ := probe(bytes.NewReader(make([]byte, 1<<20))); fstype != "" {
		t.Errorf("probe(zeros) = %q", fstype)
	}
	if fstype, _ := probeFile(dir + "/missing"); fstype != "" {
		t.Errorf("probeFile(missing) = %q", fstype)
	}
}

func TestProgressPrinter(t *testing.T) {
	var b bytes.Buffer
	p := NewPlainProgressPrinter(&b)
	p.Interval = time.Nanosecond
	p.Report(Progress{Phase: PhaseWrite, Done: 0, Total: 100 << 20})
	time.Sleep(time.Millisecond)
	p.Report(Progress{Phase: PhaseWrite, Done: 50 << 20, Total: 100 << 20, Elapsed: time.Second})
	p.Report(Progress{Phase: PhaseWrite, Done: 100 << 20, Total: 100 << 20, Elapsed: 2 * time.Second})
	out := b.String()
	for _, want := range []string{
		"writing: 50% (50.0 MiB of 100.0 MiB), 50.0 MiB/s, 0:01 left\n",
		"writing: done, 100.0 MiB in 2s (50.0 MiB/s)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plain progress lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\r") {
		t.Error("plain progress redraws lines")
	}

	b.Reset()
	p = &ProgressPrinter{w: &b, terminal: true, Width: 10}
	p.Report(Progress{Phase: PhaseVerify, Done: 30 << 20, Total: 100 << 20, Elapsed: 3 * time.Second})
	p.Report(Progress{Phase: PhaseVerify, Done: 100 << 20, Total: 100 << 20, Elapsed: 10 * time.Second})
	p.Report(Progress{Phase: PhaseHead, Done: 1 << 20, Total: 1 << 20, Elapsed: time.Millisecond})
	out = b.String()
	for _, want := range []string{
		"\r\x1b[Kverifying [###.......]  30%  30.0 MiB / 100.0 MiB  10.0 MiB/s  0:07 left",
		"\r\x1b[Kverifying [##########] 100%  100.0 MiB / 100.0 MiB  10.0 MiB/s  done in 10s\n",
		"finishing [##########] 100%",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("bar lacks %q:\n%q", want, out)
		}
	}
}

func TestConfirm(t *testing.T) {
	p := &Plan{Image: &Image{Path: "disk.img"}, Device: &Device{Path: "/dev/sdz", Model: "Stick", Size: 8 << 30, Bus: BusUSB, Removable: true}}
	var out bytes.Buffer
	if err := Confirm(strings.NewReader("yes\n"), &out, p); err != nil {
		t.Errorf("yes: %v", err)
	}
	if !strings.Contains(out.String(), "Erase /dev/sdz (Stick, 8.0 GiB, usb, removable) and write disk.img to it? Type yes") {
		t.Errorf("prompt %q", out.String())
	}
	for _, answer := range []string{"no\n", "y\n", "YES\n"} {
		if err := Confirm(strings.NewReader(answer), &out, p); !errors.Is(err, ErrNotConfirmed) {
			t.Errorf("%q: %v, want ErrNotConfirmed", answer, err)
		}
	}
	if err := Confirm(strings.NewReader(""), &out, p); !errors.Is(err, ErrNotConfirmed) || !strings.Contains(err.Error(), "--yes") {
		t.Errorf("no input: %v", err)
	}
}

// mkfs runs mkfs.TYPE on path (a file or a loop device).
func mkfs(t testing.TB, fstype, label, path string) {
	t.Helper()
	var args []string
	switch fstype {
	case "vfat":
		args = []string{"-n", label}
	case "ext4":
		args = []string{"-q", "-F", "-L", label}
	}
	prog := "mkfs." + fstype
	if _, err := exec.LookPath(prog); err != nil {
		t.Skipf("%s not installed (Debian dosfstools, e2fsprogs)", prog)
	}
	if out, err := exec.Command(prog, append(args, path)...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", prog, path, err, out)
	}
}
