package manifest

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Difference is one thing that differs between two builds.
type Difference struct {
	What string // e.g. "go", "module golang.org/x/sys (init)", "initrd.img"
	A, B string // its value in each build; "" when the build has none
}

// Comparison explains how two builds differ: in which inputs, in which
// intermediate products (/init, the Rv6 file system) and in which
// artifacts.
type Comparison struct {
	Inputs    []Difference
	Parts     []Difference
	Artifacts []Difference
	// NoInputsA and NoInputsB are set for a manifest written by an
	// rlbuild that did not record Inputs; their inputs are then only
	// partly compared.
	NoInputsA, NoInputsB bool
}

// Same reports whether nothing recorded differs.
func (c *Comparison) Same() bool {
	return len(c.Inputs) == 0 && len(c.Parts) == 0 && len(c.Artifacts) == 0
}

// Compare compares two manifests field by field.
func Compare(a, b *Manifest) *Comparison {
	c := &Comparison{NoInputsA: a.Inputs == nil, NoInputsB: b.Inputs == nil}
	in := func(what, x, y string) {
		if x != y {
			c.Inputs = append(c.Inputs, Difference{what, x, y})
		}
	}
	in("name", a.Name, b.Name)
	in("arch", a.Arch, b.Arch)
	in("config_hash (the effective configuration)", a.ConfigHash, b.ConfigHash)
	in("cmdline", a.Cmdline, b.Cmdline)
	in("build_time (SOURCE_DATE_EPOCH)", a.BuildTime.UTC().Format("2006-01-02T15:04:05Z"), b.BuildTime.UTC().Format("2006-01-02T15:04:05Z"))
	in("tool_version (rlbuild)", a.ToolVersion, b.ToolVersion)
	in("kernel_source", a.KernelSource, b.KernelSource)
	in("kernel_version", a.KernelVersion, b.KernelVersion)
	in("kernel_package", pkgString(a.KernelPackage), pkgString(b.KernelPackage))
	in("kernel_modules", modulesString(a.KernelModules), modulesString(b.KernelModules))

	ia, ib := a.Inputs, b.Inputs
	if ia == nil {
		ia = &Inputs{}
	}
	if ib == nil {
		ib = &Inputs{}
	}
	if a.Inputs != nil && b.Inputs != nil {
		in("go (toolchain of /init)", ia.Go, ib.Go)
		in("rlbuild_go (toolchain of rlbuild)", ia.RlbuildGo, ib.RlbuildGo)
		c.Inputs = append(c.Inputs, diffKeyed("go setting ", ia.GoSettings, ib.GoSettings,
			func(s Setting) string { return s.Key }, func(s Setting) string { return s.Value })...)
		c.Inputs = append(c.Inputs, diffKeyed("module ", ia.Modules, ib.Modules,
			func(m GoModule) string { return m.Path + " (" + m.For + ")" },
			func(m GoModule) string { return strings.TrimSpace(m.Version + " " + m.Sum) })...)
		c.Inputs = append(c.Inputs, diffKeyed("package ", ia.Packages, ib.Packages,
			func(p DebPackage) string { return cmp.Or(p.Name, "(no package)") + " (" + p.For + ")" },
			func(p DebPackage) string { return cmp.Or(p.Version, "(version unknown)") })...)
		c.Inputs = append(c.Inputs, diffKeyed("host file ", hostFiles(ia), hostFiles(ib),
			func(f HostFile) string { return f.Path }, func(f HostFile) string { return "sha256 " + f.SHA256 })...)
	}

	part := func(what, x, y string) {
		if x != y {
			c.Parts = append(c.Parts, Difference{what, x, y})
		}
	}
	if a.Inputs != nil && b.Inputs != nil {
		part("/init (the domain kernel binary)", sha(ia.InitSHA256), sha(ib.InitSHA256))
	}
	part("Rv6 file system image", fsString(a.RV6FS), fsString(b.RV6FS))

	c.Artifacts = diffKeyed("", a.Artifacts, b.Artifacts,
		func(x Artifact) string { return x.Path },
		func(x Artifact) string {
			return "sha256 " + x.SHA256 + " (" + strconv.FormatInt(x.Size, 10) + " bytes)"
		})
	return c
}

// diffKeyed compares two lists of records by key, in key order.
func diffKeyed[T any](prefix string, a, b []T, key, val func(T) string) []Difference {
	ma, mb := map[string]string{}, map[string]string{}
	for _, x := range a {
		ma[key(x)] = val(x)
	}
	for _, x := range b {
		mb[key(x)] = val(x)
	}
	var keys []string
	for k := range ma {
		keys = append(keys, k)
	}
	for k := range mb {
		if _, ok := ma[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var ds []Difference
	for _, k := range keys {
		if ma[k] != mb[k] {
			ds = append(ds, Difference{prefix + k, ma[k], mb[k]})
		}
	}
	return ds
}

func hostFiles(in *Inputs) []HostFile {
	var fs []HostFile
	for _, p := range in.Packages {
		fs = append(fs, p.Files...)
	}
	return fs
}

func sha(s string) string {
	if s == "" {
		return ""
	}
	return "sha256 " + s
}

func pkgString(p *Package) string {
	if p == nil {
		return ""
	}
	return p.Name + " " + p.Version + " sha256 " + p.SHA256
}

func modulesString(ms []Module) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Name
	}
	return strings.Join(names, " ")
}

func fsString(f *FSImage) string {
	if f == nil {
		return ""
	}
	return "sha256 " + f.SHA256 + " (" + strconv.FormatInt(f.Size, 10) + " bytes)"
}

// Write prints the comparison for people; nameA and nameB say which build
// is which.
func (c *Comparison) Write(w io.Writer, nameA, nameB string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "A: %s\nB: %s\n", nameA, nameB)
	for _, n := range []struct {
		old  bool
		name string
	}{{c.NoInputsA, "A"}, {c.NoInputsB, "B"}} {
		if n.old {
			fmt.Fprintf(&b, "note: %s's manifest records no inputs (an older rlbuild wrote it): only its config, kernel, time and artifacts are compared; rebuild it with this rlbuild to compare the rest\n", n.name)
		}
	}
	section := func(title string, ds []Difference) {
		if len(ds) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n%s:\n", title)
		for _, d := range ds {
			fmt.Fprintf(&b, "  %s\n    A: %s\n    B: %s\n", d.What, cmp.Or(d.A, "(none)"), cmp.Or(d.B, "(none)"))
		}
	}
	section("inputs that differ", c.Inputs)
	section("intermediate products that differ", c.Parts)
	section("artifacts that differ", c.Artifacts)
	b.WriteString("\n" + c.verdict() + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// verdict is the one-line explanation.
func (c *Comparison) verdict() string {
	switch {
	case c.Same():
		return "same: every recorded input and every artifact is equal"
	case len(c.Inputs) > 0:
		return fmt.Sprintf("the builds differ in %d input(s) listed above, which explain the differing artifacts", len(c.Inputs))
	case c.NoInputsA || c.NoInputsB:
		return "no compared input differs, but a manifest without recorded inputs cannot say which one did: rebuild both with this rlbuild"
	case len(c.Parts) > 0 && c.Parts[0].What == "/init (the domain kernel binary)":
		return "no recorded input differs, yet /init does: the source trees differ (or the Go build is not reproducible)"
	default:
		return "no recorded input differs, yet artifacts do: the difference comes from the source trees or from the builders' environments, which should not happen (a reproducibility bug: please report it with both manifests)"
	}
}
