package fs_test

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/rlgo/redleaf/rv6/fs"
	"github.com/rlgo/redleaf/rv6/fs/layout"
)

// A model is what a file system should hold: the crash tests compare a
// recovered file system with the models of the states it may be in.
// Blocks are copy-on-write, so snapshots are cheap.
type model struct {
	dirs  map[string]bool
	names map[string]int // path -> file id (hard links share one)
	files map[int]*mfile
	next  int
}

type mfile struct {
	size   int64
	blocks map[int64]*[layout.BlockSize]byte // absent: zeros
}

func newModel() *model {
	return &model{dirs: map[string]bool{"/": true}, names: map[string]int{}, files: map[int]*mfile{}}
}

func (m *model) clone() *model {
	c := &model{dirs: maps.Clone(m.dirs), names: maps.Clone(m.names), files: map[int]*mfile{}, next: m.next}
	for id, f := range m.files {
		c.files[id] = &mfile{size: f.size, blocks: maps.Clone(f.blocks)}
	}
	return c
}

func (m *model) create(p string) {
	if _, ok := m.names[p]; ok {
		m.truncate(p, 0)
		return
	}
	m.next++
	m.names[p] = m.next
	m.files[m.next] = &mfile{blocks: map[int64]*[layout.BlockSize]byte{}}
}

func (m *model) write(p string, off int64, data []byte) {
	f := m.files[m.names[p]]
	for len(data) > 0 {
		bn, bo := off/layout.BlockSize, off%layout.BlockSize
		nb := new([layout.BlockSize]byte)
		if old := f.blocks[bn]; old != nil {
			*nb = *old
		}
		n := copy(nb[bo:], data)
		f.blocks[bn] = nb
		data, off = data[n:], off+int64(n)
		f.size = max(f.size, off)
	}
}

func (m *model) truncate(p string, size int64) {
	f := m.files[m.names[p]]
	keep := (size + layout.BlockSize - 1) / layout.BlockSize
	for bn := range f.blocks {
		if bn >= keep {
			delete(f.blocks, bn)
		}
	}
	if size%layout.BlockSize != 0 {
		if old := f.blocks[keep-1]; old != nil {
			nb := *old
			clear(nb[size%layout.BlockSize:])
			f.blocks[keep-1] = &nb
		}
	}
	f.size = size
}

func (m *model) unlink(p string) {
	id := m.names[p]
	delete(m.names, p)
	for _, other := range m.names {
		if other == id {
			return
		}
	}
	delete(m.files, id)
}

func (m *model) link(old, new string) { m.names[new] = m.names[old] }

// rename moves a file or a directory (and everything under it),
// replacing a file or an empty directory.
func (m *model) rename(old, new string) {
	if old == new {
		return
	}
	if id, ok := m.names[old]; ok {
		if other, ok := m.names[new]; ok && other == id {
			return
		}
		if _, ok := m.names[new]; ok {
			m.unlink(new)
		}
		delete(m.names, old)
		m.names[new] = id
		return
	}
	delete(m.dirs, new)
	for d := range maps.Clone(m.dirs) {
		if d == old || strings.HasPrefix(d, old+"/") {
			delete(m.dirs, d)
			m.dirs[new+strings.TrimPrefix(d, old)] = true
		}
	}
	for n, id := range maps.Clone(m.names) {
		if strings.HasPrefix(n, old+"/") {
			delete(m.names, n)
			m.names[new+strings.TrimPrefix(n, old)] = id
		}
	}
}

// verify compares f with m and describes the first difference.
func verify(f *fs.FS, m *model) error {
	dirs := map[string]bool{}
	files := map[string]fs.Stat{}
	var walk func(p string, depth int) error
	walk = func(p string, depth int) error {
		if depth > 64 {
			return fmt.Errorf("%s: too deep", p)
		}
		dirs[p] = true
		es, err := f.ReadDir(p)
		if err != nil {
			return err
		}
		for _, e := range es {
			cp := path.Join(p, e.Name)
			st, err := f.Stat(cp)
			if err != nil {
				return err
			}
			if st.IsDir() {
				if err := walk(cp, depth+1); err != nil {
					return err
				}
			} else {
				files[cp] = st
			}
		}
		return nil
	}
	if err := walk("/", 0); err != nil {
		return err
	}
	if got, want := sortedKeys(dirs), sortedKeys(m.dirs); !slices.Equal(got, want) {
		return fmt.Errorf("directories %v, want %v", got, want)
	}
	if got, want := sortedKeys(files), sortedKeys(m.names); !slices.Equal(got, want) {
		return fmt.Errorf("files %v, want %v", got, want)
	}
	inumOf := map[int]uint32{}
	links := map[int]int{}
	for p, id := range m.names {
		st := files[p]
		if prev, ok := inumOf[id]; ok && prev != st.Inum {
			return fmt.Errorf("%s: inode %d, but its other names have inode %d", p, st.Inum, prev)
		}
		inumOf[id] = st.Inum
		links[id]++
	}
	checked := map[int]bool{}
	for _, p := range sortedKeys(m.names) {
		id := m.names[p]
		st := files[p]
		if int(st.Nlink) != links[id] {
			return fmt.Errorf("%s: %d links, want %d", p, st.Nlink, links[id])
		}
		if checked[id] {
			continue
		}
		checked[id] = true
		if err := verifyFile(f, p, st, m.files[id]); err != nil {
			return err
		}
	}
	return nil
}

func verifyFile(f *fs.FS, p string, st fs.Stat, mf *mfile) error {
	if st.Size != mf.size {
		return fmt.Errorf("%s: size %d, want %d", p, st.Size, mf.size)
	}
	fl, err := f.Open(p, fs.O_RDONLY)
	if err != nil {
		return err
	}
	defer fl.Close()
	nblocks := (mf.size + layout.BlockSize - 1) / layout.BlockSize
	// The blocks with data, and the holes among the first 64 blocks.
	var bns []int64
	for bn := range mf.blocks {
		bns = append(bns, bn)
	}
	for bn := range min(nblocks, 64) {
		if mf.blocks[bn] == nil {
			bns = append(bns, bn)
		}
	}
	slices.Sort(bns)
	buf := make([]byte, layout.BlockSize)
	for _, bn := range bns {
		n, err := fl.ReadAt(buf, bn*layout.BlockSize)
		if err != nil && err != io.EOF {
			return err
		}
		want := make([]byte, layout.BlockSize)
		if b := mf.blocks[bn]; b != nil {
			want = b[:]
		}
		want = want[:n]
		if !bytes.Equal(buf[:n], want) {
			return fmt.Errorf("%s: block %d differs", p, bn)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
