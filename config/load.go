package config

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/rlgo/redleaf/internal/suggest"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cast"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"gopkg.in/yaml.v3"
)

// EnvPrefix prefixes every environment variable that sets a key.
const EnvPrefix = "RLBUILD_"

// Options says where Load takes its settings from.
type Options struct {
	// File is the YAML config file. Required.
	File string
	// Flags, if set, override file and environment for the keys that
	// FlagKeys maps them to, when the user set them on the command line.
	Flags *pflag.FlagSet
	// FlagKeys maps a flag name to the config key it sets.
	FlagKeys map[string]string
	// WorkDir resolves the default Source and relative Out; default ".".
	WorkDir string
}

// field is one leaf key of Config.
type field struct {
	key  string
	path []int // reflect field index path
	kind reflect.Kind
	elem reflect.Type // a slice's element type
	// lo and hi bound a whole number (the field's `range:"lo,hi"` tag):
	// every numeric key has one, so no value wraps or overflows later.
	lo, hi int64
}

var fields = collectFields(reflect.TypeOf(Config{}), "", nil)

func collectFields(t reflect.Type, prefix string, idx []int) []field {
	var fs []field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "" || tag == "-" {
			continue
		}
		key := prefix + tag
		path := append(append([]int(nil), idx...), i)
		if f.Type.Kind() == reflect.Struct {
			fs = append(fs, collectFields(f.Type, key+".", path)...)
			continue
		}
		fd := field{key: key, path: path, kind: f.Type.Kind()}
		if fd.kind == reflect.Slice {
			fd.elem = f.Type.Elem()
		}
		if fd.kind == reflect.Int {
			var err error
			if fd.lo, fd.hi, err = parseRange(f.Tag.Get("range")); err != nil {
				panic(fmt.Sprintf("config: key %s: %v", key, err)) // a programming error, caught by every test
			}
		}
		fs = append(fs, fd)
	}
	return fs
}

// Keys returns every configuration key, sorted.
func Keys() []string {
	ks := make([]string, len(fields))
	for i, f := range fields {
		ks[i] = f.key
	}
	sort.Strings(ks)
	return ks
}

// EnvVar returns the environment variable that sets key.
func EnvVar(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Load reads, merges and validates a configuration. Its error is an
// Errors listing every problem found, or a plain error for a file that
// cannot be read at all.
func Load(o Options) (*Config, error) {
	if o.File == "" {
		return nil, &Error{Key: "--config", Msg: "no config file given", Fix: "pass one with --config, e.g. --config configs/qemu.yaml"}
	}
	if o.WorkDir == "" {
		o.WorkDir = "."
	}
	data, err := os.ReadFile(o.File)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &Error{Origin: o.File, Msg: "config file does not exist", Fix: "pass an existing file with --config; ready ones are in configs/ (qemu.yaml, qemu-arm64.yaml, qemu-debian.yaml, usb.yaml)"}
	}
	if err != nil {
		return nil, &Error{Origin: o.File, Msg: err.Error()}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Error{Origin: o.File, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), Fix: "fix the syntax at the line named"}
	}
	l := &loader{opts: o, lines: map[string]int{}}
	l.walk(&root, "")
	if len(root.Content) > 0 && root.Content[0].Kind != yaml.MappingNode {
		return nil, l.errs
	}

	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, &Error{Origin: o.File, Msg: "not valid YAML: " + err.Error()}
	}
	v.SetEnvPrefix(strings.TrimSuffix(EnvPrefix, "_"))
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	if o.Flags != nil {
		for name, key := range o.FlagKeys {
			if fl := o.Flags.Lookup(name); fl != nil && fl.Changed {
				if err := v.BindPFlag(key, fl); err != nil {
					return nil, err
				}
			}
		}
	}
	l.checkEnv()

	c := &Config{File: o.File}
	cv := reflect.ValueOf(c).Elem()
	explicit := map[string]bool{}
	for _, f := range fields {
		if !v.IsSet(f.key) {
			continue // default, filled in below
		}
		explicit[f.key] = true
		l.set(cv.FieldByIndex(f.path), f, v.Get(f.key))
	}
	l.applyDefaults(c, explicit)
	l.validate(c)
	l.errs = firstPerKey(l.errs)
	if len(l.errs) > 0 {
		return nil, l.errs
	}
	return c, nil
}

// firstPerKey keeps the first error of each key: a value that could not be
// read is reported as such, not again by the checks that saw the zero
// left in its place.
func firstPerKey(errs Errors) Errors {
	seen := map[string]bool{}
	out := errs[:0]
	for _, e := range errs {
		if e.Key != "" {
			if seen[e.Key] {
				continue
			}
			seen[e.Key] = true
		}
		out = append(out, e)
	}
	return out
}

type loader struct {
	opts  Options
	lines map[string]int // key -> line in the file
	errs  Errors
}

func (l *loader) fail(key, msg, fix string) {
	l.errs = append(l.errs, &Error{Key: key, Origin: l.origin(key), Msg: msg, Fix: fix})
}

// origin says where the value of key came from, the last source winning.
func (l *loader) origin(key string) string {
	if l.opts.Flags != nil {
		for name, k := range l.opts.FlagKeys {
			if k == key {
				if fl := l.opts.Flags.Lookup(name); fl != nil && fl.Changed {
					return "flag --" + name
				}
			}
		}
	}
	if _, ok := os.LookupEnv(EnvVar(key)); ok {
		return "environment variable " + EnvVar(key)
	}
	if line, ok := l.lines[key]; ok {
		return fmt.Sprintf("%s:%d", l.opts.File, line)
	}
	if l.opts.File != "" {
		return l.opts.File
	}
	return ""
}

// walk records the line of every key in the file and reports keys that
// are not configuration keys, with the nearest known key as a hint.
func (l *loader) walk(n *yaml.Node, prefix string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			l.walk(c, prefix)
		}
		return
	case yaml.MappingNode:
	default:
		if prefix == "" && n.Kind != 0 {
			l.errs = append(l.errs, &Error{Origin: fmt.Sprintf("%s:%d", l.opts.File, n.Line), Msg: "the config file must be a YAML mapping of keys to values", Fix: "start from configs/qemu.yaml"})
		}
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := prefix + k.Value
		if isSection(key) {
			l.lines[key] = k.Line
			if val.Kind == yaml.MappingNode {
				l.walk(val, key+".")
			} else if !(val.Kind == yaml.ScalarNode && val.Tag == "!!null") {
				l.errs = append(l.errs, &Error{Key: key, Origin: fmt.Sprintf("%s:%d", l.opts.File, k.Line), Msg: "is a section and takes keys, not a value", Fix: "write its keys indented below it, e.g. " + sectionExample(key)})
			}
			continue
		}
		if !isKey(key) {
			fix := "remove it; the keys are listed in README.md (Configuration)"
			if s := suggest.Closest(key, keysAndSections()); s != "" {
				fix = fmt.Sprintf("did you mean %q?", s)
			}
			l.errs = append(l.errs, &Error{Key: key, Origin: fmt.Sprintf("%s:%d", l.opts.File, k.Line), Msg: "unknown key", Fix: fix})
			continue
		}
		l.lines[key] = val.Line
		if f := fieldOf(key); f.elem != nil && f.elem.Kind() == reflect.Struct && val.Kind == yaml.SequenceNode {
			l.walkEntries(val, f)
		}
	}
}

// walkEntries records the line of each entry of a list of mappings
// ("rv6.fs.files[1]") and reports the keys its entries do not have.
func (l *loader) walkEntries(seq *yaml.Node, f field) {
	known := entryKeys(f.elem)
	for i, e := range seq.Content {
		ekey := fmt.Sprintf("%s[%d]", f.key, i)
		l.lines[ekey] = e.Line
		if e.Kind != yaml.MappingNode {
			continue // set reports it
		}
		for j := 0; j+1 < len(e.Content); j += 2 {
			k := e.Content[j]
			l.lines[ekey+"."+k.Value] = e.Content[j+1].Line
			if !contains(known, k.Value) {
				fix := "an entry takes " + strings.Join(known, " and ")
				if s := suggest.Closest(k.Value, known); s != "" {
					fix = fmt.Sprintf("did you mean %q?", s)
				}
				l.errs = append(l.errs, &Error{Key: ekey + "." + k.Value, Origin: fmt.Sprintf("%s:%d", l.opts.File, k.Line), Msg: "unknown key", Fix: fix})
			}
		}
	}
}

// entryKeys are the yaml keys of a list entry's struct type.
func entryKeys(t reflect.Type) []string {
	var ks []string
	for i := 0; i < t.NumField(); i++ {
		if tag := t.Field(i).Tag.Get("yaml"); tag != "" && tag != "-" {
			ks = append(ks, tag)
		}
	}
	return ks
}

func fieldOf(key string) field {
	for _, f := range fields {
		if f.key == key {
			return f
		}
	}
	return field{}
}

// keysAndSections lists every key and every section ("kernel").
func keysAndSections() []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range Keys() {
		parts := strings.Split(k, ".")
		for i := 1; i <= len(parts); i++ {
			p := strings.Join(parts[:i], ".")
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

func isKey(key string) bool {
	for _, f := range fields {
		if f.key == key {
			return true
		}
	}
	return false
}

func isSection(key string) bool {
	for _, f := range fields {
		if strings.HasPrefix(f.key, key+".") {
			return true
		}
	}
	return false
}

func sectionExample(section string) string {
	for _, f := range fields {
		if strings.HasPrefix(f.key, section+".") {
			return fmt.Sprintf("%q", strings.TrimPrefix(f.key, section+".")+": ...")
		}
	}
	return ""
}

// checkEnv reports RLBUILD_* variables that set no key: a misspelt
// variable would otherwise be ignored without a word.
func (l *loader) checkEnv() {
	known := map[string]bool{}
	for _, f := range fields {
		known[EnvVar(f.key)] = true
	}
	var names []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix) && !known[name] && !ignoredEnv[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		fix := "unset it; each key K is set by RLBUILD_ and K in upper case with dots as underscores"
		var vars []string
		for _, f := range fields {
			vars = append(vars, strings.ToLower(EnvVar(f.key)))
		}
		if s := suggest.Closest(name, vars); s != "" {
			fix = fmt.Sprintf("did you mean %s?", strings.ToUpper(s))
		}
		l.errs = append(l.errs, &Error{Origin: "environment variable " + name, Msg: "sets no configuration key", Fix: fix})
	}
}

// ignoredEnv are RLBUILD_ variables that are not configuration keys.
var ignoredEnv = map[string]bool{
	"RLBUILD_TEST_SLOW": true,
}

// set converts raw to the field's type, recording an error on mismatch.
func (l *loader) set(dst reflect.Value, f field, raw any) {
	switch f.kind {
	case reflect.String:
		switch raw.(type) {
		case map[string]any, []any:
			l.fail(f.key, fmt.Sprintf("expected a string, got %s", describe(raw)), "write a single value")
			return
		}
		s, err := cast.ToStringE(raw)
		if err != nil {
			l.fail(f.key, fmt.Sprintf("expected a string, got %s", describe(raw)), "write a single value")
			return
		}
		dst.SetString(s)
	case reflect.Bool:
		b, err := cast.ToBoolE(raw)
		if err != nil {
			l.fail(f.key, fmt.Sprintf("expected true or false, got %s", describe(raw)), "write true or false")
			return
		}
		dst.SetBool(b)
	case reflect.Int:
		n, ok, big := wholeNumber(raw)
		switch {
		case !ok:
			l.fail(f.key, fmt.Sprintf("expected a whole number, got %s", describe(raw)), fmt.Sprintf("write a whole number from %d to %d", f.lo, f.hi))
			return
		case big || n > f.hi:
			l.fail(f.key, fmt.Sprintf("%v is too large", raw), fmt.Sprintf("give at most %d", f.hi))
			return
		case n < f.lo:
			l.fail(f.key, fmt.Sprintf("%v is too small", raw), fmt.Sprintf("give at least %d", f.lo))
			return
		}
		dst.SetInt(n)
	case reflect.Slice:
		if f.elem.Kind() == reflect.Struct {
			l.setEntries(dst, f, raw)
			return
		}
		if _, ok := raw.(map[string]any); ok {
			l.fail(f.key, "expected a list of strings, got a mapping", "write a YAML list, e.g. [a, b]")
			return
		}
		ss, err := cast.ToStringSliceE(raw)
		if err != nil {
			l.fail(f.key, fmt.Sprintf("expected a list of strings, got %s", describe(raw)), "write a YAML list, e.g. [a, b]")
			return
		}
		dst.Set(reflect.ValueOf(ss))
	}
}

// parseRange reads a `range:"lo,hi"` tag.
func parseRange(tag string) (lo, hi int64, err error) {
	a, b, ok := strings.Cut(tag, ",")
	if !ok {
		return 0, 0, fmt.Errorf("a whole-number key needs a range:\"lo,hi\" tag, got %q", tag)
	}
	if lo, err = strconv.ParseInt(a, 10, 64); err == nil {
		hi, err = strconv.ParseInt(b, 10, 64)
	}
	if err == nil && lo > hi {
		err = fmt.Errorf("range %q is empty", tag)
	}
	return lo, hi, err
}

// wholeNumber reads a whole number from a YAML value, an environment
// variable or a flag, strictly: booleans, fractions and text are not
// numbers (ok false), and a number beyond int64 is big rather than
// wrapped or rounded.
func wholeNumber(raw any) (n int64, ok, big bool) {
	switch v := raw.(type) {
	case int:
		return int64(v), true, false
	case int64:
		return v, true, false
	case int32:
		return int64(v), true, false
	case uint64:
		return int64(v), true, v > math.MaxInt64
	case uint:
		return int64(v), true, uint64(v) > math.MaxInt64
	case float64:
		if v != math.Trunc(v) || math.IsNaN(v) {
			return 0, false, false
		}
		if v >= math.MaxInt64 || v <= math.MinInt64 {
			return 0, true, true
		}
		return int64(v), true, false
	case string:
		s := strings.TrimSpace(v)
		n, err := strconv.ParseInt(s, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return 0, true, true
		}
		return n, err == nil, false
	}
	return 0, false, false
}

// setEntries fills a list of structs (rv6.fs.files) from a YAML list whose
// entries are mappings of the struct's keys, or "SRC:DST" strings (also
// the form of an environment variable: entries separated by white space).
func (l *loader) setEntries(dst reflect.Value, f field, raw any) {
	var items []any
	switch r := raw.(type) {
	case nil:
	case []any:
		items = r
	case string:
		for _, s := range strings.Fields(r) {
			items = append(items, s)
		}
	default:
		l.fail(f.key, fmt.Sprintf("expected a list, got %s", describe(raw)), "write a YAML list of entries, e.g. - {src: a.txt, dst: /a.txt}")
		return
	}
	keys := entryKeys(f.elem)
	out := reflect.MakeSlice(dst.Type(), 0, len(items))
	for i, it := range items {
		e := reflect.New(f.elem).Elem()
		switch it := it.(type) {
		case map[string]any:
			for j, k := range keys {
				v, ok := it[k]
				if !ok || v == nil {
					continue
				}
				s, err := cast.ToStringE(v)
				if _, isMap := v.(map[string]any); err != nil || isMap {
					l.failEntry(f.key, i, k, fmt.Sprintf("expected a string, got %s", describe(v)), "write a single value")
					continue
				}
				e.Field(j).SetString(s)
			}
		case string:
			a, b, _ := strings.Cut(it, ":")
			if len(keys) >= 1 {
				e.Field(0).SetString(a)
			}
			if len(keys) >= 2 {
				e.Field(1).SetString(b)
			}
		default:
			l.failEntry(f.key, i, "", fmt.Sprintf("expected a mapping with %s, got %s", strings.Join(keys, " and "), describe(it)), fmt.Sprintf("write e.g. - {%s: a.txt, %s: /a.txt}", keys[0], keys[len(keys)-1]))
			continue
		}
		out = reflect.Append(out, e)
	}
	dst.Set(out)
}

// failEntry records an error about entry i of the list key (sub, if not
// "", names the entry's key): "rv6.fs.files[1].src". The origin is the
// list's, with the entry's own line when it came from the file.
func (l *loader) failEntry(key string, i int, sub, msg, fix string) {
	ekey := fmt.Sprintf("%s[%d]", key, i)
	origin := l.origin(key)
	if _, inFile := l.lines[key]; inFile && origin == fmt.Sprintf("%s:%d", l.opts.File, l.lines[key]) {
		if line, ok := l.lines[ekey+"."+sub]; ok && sub != "" {
			origin = fmt.Sprintf("%s:%d", l.opts.File, line)
		} else if line, ok := l.lines[ekey]; ok {
			origin = fmt.Sprintf("%s:%d", l.opts.File, line)
		}
	}
	if sub != "" {
		ekey += "." + sub
	}
	l.errs = append(l.errs, &Error{Key: ekey, Origin: origin, Msg: msg, Fix: fix})
}

func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "nothing"
	case string:
		return fmt.Sprintf("%q", v)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	default:
		return fmt.Sprintf("%v", v)
	}
}

// configDir is the directory relative host paths in the file resolve to.
func (l *loader) configDir() string { return filepath.Dir(l.opts.File) }
