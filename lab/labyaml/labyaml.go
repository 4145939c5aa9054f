// Package labyaml decodes the lab's YAML files (inventory, matrix,
// suites) strictly, the way the build configuration is checked: every
// unknown key (with the nearest known one), wrong type and repeated key
// is a config.Error naming the file, the line and the key, and all of
// them are reported at once. Lines remembers where each key was, so
// that the checks that follow decoding can name the line too.
package labyaml

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/rlgo/redleaf/config"
	"github.com/rlgo/redleaf/internal/suggest"
)

// Lines maps dotted keys ("machines[2].power.type") to their lines.
type Lines struct {
	File string
	m    map[string]int
}

// Line returns the line of key, or of its nearest parent that has one.
func (l Lines) Line(key string) int {
	for key != "" {
		if n, ok := l.m[key]; ok {
			return n
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

// Origin is "file:line" of key.
func (l Lines) Origin(key string) string {
	if n := l.Line(key); n > 0 {
		return fmt.Sprintf("%s:%d", l.File, n)
	}
	return l.File
}

// Err is a config.Error at key's line.
func (l Lines) Err(key, msg, fix string) *config.Error {
	return &config.Error{Key: key, Origin: l.Origin(key), Msg: msg, Fix: fix}
}

// Decode decodes b (the contents of file) into v, a pointer to a struct
// whose fields carry yaml tags. Problems come back as config.Errors in
// file order.
func Decode(file string, b []byte, v any) (Lines, error) {
	d := &decoder{lines: Lines{File: file, m: map[string]int{}}}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&doc); err != nil {
		if err.Error() == "EOF" {
			return d.lines, config.Errors{{Origin: file, Msg: "the file is empty", Fix: "see the example in README.md"}}
		}
		return d.lines, config.Errors{{Origin: file, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), Fix: "fix the syntax at the line named"}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		panic("labyaml: Decode needs a pointer to a struct")
	}
	if root.Kind != yaml.MappingNode {
		return d.lines, config.Errors{{Origin: fmt.Sprintf("%s:%d", file, root.Line), Msg: "the file must be a YAML mapping of keys to values", Fix: "see the example in README.md"}}
	}
	d.value(root, "", rv.Elem())
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool { return d.lineOf(d.errs[i]) < d.lineOf(d.errs[j]) })
		return d.lines, d.errs
	}
	return d.lines, nil
}

type decoder struct {
	lines Lines
	errs  config.Errors
}

func (d *decoder) lineOf(e *config.Error) int {
	_, after, ok := strings.Cut(e.Origin, d.lines.File+":")
	if !ok {
		return 0
	}
	var n int
	fmt.Sscanf(after, "%d", &n)
	return n
}

func (d *decoder) fail(n *yaml.Node, key, msg, fix string) {
	d.errs = append(d.errs, &config.Error{Key: key, Origin: fmt.Sprintf("%s:%d", d.lines.File, n.Line), Msg: msg, Fix: fix})
}

var unmarshaler = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// value decodes n into v, a settable value, at key.
func (d *decoder) value(n *yaml.Node, key string, v reflect.Value) {
	if key != "" {
		if _, ok := d.lines.m[key]; !ok {
			d.lines.m[key] = n.Line
		}
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // keep the zero value
	}
	if reflect.PointerTo(v.Type()).Implements(unmarshaler) {
		d.leaf(n, key, v)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.mapping(n, key, v)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			d.leaf(n, key, v)
			return
		}
		if n.Kind != yaml.MappingNode {
			d.fail(n, key, "must be a mapping of names to entries", "")
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn, vn := n.Content[i], n.Content[i+1]
			k := join(key, kn.Value)
			if seen[kn.Value] {
				d.fail(kn, k, "set twice", "keep one")
				continue
			}
			seen[kn.Value] = true
			d.lines.m[k] = kn.Line
			ev := reflect.New(v.Type().Elem()).Elem()
			d.value(vn, k, ev)
			v.SetMapIndex(reflect.ValueOf(kn.Value).Convert(v.Type().Key()), ev)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			d.leaf(n, key, v)
			return
		}
		if n.Kind != yaml.SequenceNode {
			if n.Kind == yaml.ScalarNode && isScalarKind(v.Type().Elem().Kind()) {
				// One value where a list is wanted: a list of one.
				ev := reflect.New(v.Type().Elem()).Elem()
				d.value(n, key+"[0]", ev)
				v.Set(reflect.Append(reflect.MakeSlice(v.Type(), 0, 1), ev))
				return
			}
			d.fail(n, key, "must be a list", "write a YAML list: [a, b] or `- a` lines")
			return
		}
		s := reflect.MakeSlice(v.Type(), 0, len(n.Content))
		for i, item := range n.Content {
			ev := reflect.New(v.Type().Elem()).Elem()
			d.value(item, fmt.Sprintf("%s[%d]", key, i), ev)
			s = reflect.Append(s, ev)
		}
		v.Set(s)
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, key, v.Elem())
	default:
		d.leaf(n, key, v)
	}
}

func isScalarKind(k reflect.Kind) bool {
	switch k {
	case reflect.String, reflect.Int, reflect.Int64, reflect.Bool, reflect.Float64:
		return true
	}
	return false
}

func join(key, name string) string {
	if key == "" {
		return name
	}
	return key + "." + name
}

// mapping decodes a mapping node into a struct, field by yaml tag.
func (d *decoder) mapping(n *yaml.Node, key string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		where := key
		if where == "" {
			where = "the top level"
		}
		d.fail(n, key, where+" must be a mapping of keys to values", "")
		return
	}
	fields := map[string]int{}
	var known []string
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !t.Field(i).IsExported() {
			continue
		}
		fields[name] = i
		known = append(known, name)
	}
	sort.Strings(known)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		k := join(key, kn.Value)
		if seen[kn.Value] {
			d.fail(kn, k, "set twice", "keep one")
			continue
		}
		seen[kn.Value] = true
		fi, ok := fields[kn.Value]
		if !ok {
			fix := "known keys here: " + strings.Join(known, ", ")
			if c := suggest.Closest(kn.Value, known); c != "" {
				fix = fmt.Sprintf("did you mean %q?", c)
			}
			d.fail(kn, k, "unknown key", fix)
			continue
		}
		d.lines.m[k] = kn.Line
		d.value(vn, k, v.Field(fi))
	}
}

var typeErrLine = regexp.MustCompile(`^line \d+: `)

// leaf decodes a scalar (or a value with its own UnmarshalYAML).
func (d *decoder) leaf(n *yaml.Node, key string, v reflect.Value) {
	if n.Kind != yaml.ScalarNode && !reflect.PointerTo(v.Type()).Implements(unmarshaler) && v.Kind() != reflect.Map {
		d.fail(n, key, "must be a single value, not a "+kindName(n.Kind), "")
		return
	}
	p := reflect.New(v.Type())
	if err := n.Decode(p.Interface()); err != nil {
		msg := err.Error()
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			msg = typeErrLine.ReplaceAllString(te.Errors[0], "")
		}
		d.fail(n, key, fmt.Sprintf("%q: %s", n.Value, msg), "write "+typeName(v.Type()))
		return
	}
	v.Set(p.Elem())
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

func typeName(t reflect.Type) string {
	if t.String() == "time.Duration" {
		return "a duration such as 90s or 5m"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	}
	return "a value of type " + t.String()
}
