package profile

import (
	"bytes"
	"context"
	"os"
	"sort"
	"time"
)

// Watch polls the file at path and the manifests its profiles name every
// interval (default 1 s) and calls changed with the reloaded file, or
// with the error that kept it from loading (the caller keeps serving the
// last good one), whenever any of them changes. It returns when ctx
// ends. Polling rather than inotify: editors replace files by renaming,
// and the artifacts directories are rewritten the same way by
// `rlbuild image`.
func Watch(ctx context.Context, path string, current *File, interval time.Duration, changed func(*File, error)) {
	if interval <= 0 {
		interval = time.Second
	}
	last := fingerprint(path, current)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fp := fingerprint(path, current)
		if bytes.Equal(fp, last) {
			continue
		}
		last = fp
		f, err := Load(path)
		if err != nil {
			changed(nil, err)
			continue
		}
		current = f
		last = fingerprint(path, current)
		changed(f, nil)
	}
}

// fingerprint is the contents of the file and the size and time of each
// manifest it uses.
func fingerprint(path string, f *File) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		b = []byte("error: " + err.Error())
	}
	if f == nil {
		return b
	}
	names := make([]string, 0, len(f.Profiles))
	for name := range f.Profiles {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := f.Profiles[name]
		if p.Manifest == nil {
			continue
		}
		st, err := os.Stat(p.Manifest.Path("manifest.json"))
		if err != nil {
			b = append(b, "\x00missing "+p.Name...)
			continue
		}
		b = append(b, "\x00"+p.Name+st.ModTime().String()...)
	}
	return b
}
