package debkernel

import (
	"fmt"
	"sort"
	"strings"
)

// depGraph maps a module name to its file (relative to
// /lib/modules/RELEASE) and the modules it needs.
type depGraph map[string]depEntry

type depEntry struct {
	Path    string   `json:"path"`
	Depends []string `json:"depends"`
	// Known is false while Depends has not been read (a compressed
	// module whose .modinfo is read only when it is needed).
	Known bool `json:"known"`
}

// parseModulesDep reads depmod's modules.dep: lines "FILE: DEP DEP ...",
// paths relative to /lib/modules/RELEASE. Each line lists every module
// FILE needs, not only the direct ones; that is fine for ordering.
func parseModulesDep(s string) (depGraph, error) {
	g := depGraph{}
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		file, deps, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("modules.dep line %d: no ':' in %q", i+1, line)
		}
		name, ok := moduleName(file)
		if !ok {
			return nil, fmt.Errorf("modules.dep line %d: %q is not a module file", i+1, file)
		}
		e := depEntry{Path: strings.TrimSpace(file), Known: true}
		for _, d := range strings.Fields(deps) {
			dn, ok := moduleName(d)
			if !ok {
				return nil, fmt.Errorf("modules.dep line %d: %q is not a module file", i+1, d)
			}
			e.Depends = append(e.Depends, dn)
		}
		g[name] = e
	}
	return g, nil
}

// formatModulesDep writes the graph's modules in modules.dep's format,
// sorted by path, each with its dependencies in load order reversed (as
// depmod lists them: the nearest first).
func (g depGraph) formatModulesDep(names []string) string {
	in := map[string]bool{}
	for _, n := range names {
		in[n] = true
	}
	var lines []string
	for _, n := range names {
		order, _ := g.resolve([]string{n})
		var deps []string
		for i := len(order) - 1; i >= 0; i-- {
			if order[i] != n && in[order[i]] {
				deps = append(deps, g[order[i]].Path)
			}
		}
		lines = append(lines, g[n].Path+": "+strings.Join(deps, " "))
	}
	sort.Strings(lines)
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	return strings.Join(lines, "\n") + "\n"
}

// resolve returns names and everything they need, in load order
// (dependencies first; names in the order given otherwise), and the
// requested names that are not in the graph. A module whose Depends are
// not Known yet is returned as it is: the caller reads its .modinfo and
// resolves again. A dependency cycle is an error.
func (g depGraph) resolve(names []string) (order, missing []string) {
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var visit func(n string)
	visit = func(n string) {
		if state[n] != 0 {
			return // done, or a cycle: modpost does not make them
		}
		state[n] = visiting
		e, ok := g[n]
		if !ok {
			missing = append(missing, n)
			state[n] = done
			return
		}
		for _, d := range e.Depends {
			visit(d)
		}
		state[n] = done
		order = append(order, n)
	}
	for _, n := range names {
		visit(normalize(n))
	}
	return order, missing
}

// unknown returns the modules of order whose dependencies are not known.
func (g depGraph) unknown(order []string) []string {
	var u []string
	for _, n := range order {
		if !g[n].Known {
			u = append(u, n)
		}
	}
	return u
}
